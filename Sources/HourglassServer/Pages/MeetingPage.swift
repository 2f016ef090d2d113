import Foundation
import HourglassCore
import HourglassStore

extension Page {
    /// The meeting board. Every action is a plain form posting a command, so the page works
    /// without JavaScript; `board.js` sends the same commands over the meeting's WebSocket and
    /// re-renders this markup from the live board (see `Public/board-render.js`).
    static func meeting(_ access: SpaceAccess, user: User?, series: Series, board: Board, notes: NotesDocument, present: [String],
                        now: Date, openActions: [ActionBullet] = [], watching: Bool = false, notice: String? = nil, fields: [String: String] = [:]) -> HTML {
        let space = access.space
        let m = board.meeting
        let page = Paths.meeting(space.slug, series.slug, m.date)
        let me = PersonalBoard(board, user: user, access: access)
        let view = PublicBoard(board, present: present)
        return layout("\(series.name) \(m.date)", user: user, notice: notice, script: "board.js", """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <a href="\(Paths.series(space.slug, series.slug))">\(series.name)</a> › <span>\(m.date)</span></nav>
        <article id="meeting" data-live="\(Paths.apiMeeting(space.slug, series.slug, m.date))/live" data-commands="\(page)/commands">
        <h1>\(series.name) <time datetime="\(m.date)">\(m.date)</time></h1>
        <p class="muted meeting-links"><a href="\(page)/history">Notes history</a> · <a href="\(page)/comments">Comments</a>
        \(watchButton(space.slug, .meeting, m.id, watching: watching, next: page, user: user))</p>
        \(exportLinks(page))
        \(HTML.when(!openActions.isEmpty, """
          <section class="carried-actions" aria-labelledby="open-actions-title"><h2 id="open-actions-title">Open action items from earlier meetings</h2>
          \(actionList(openActions, space: space, series: [series.id: series], empty: ""))
          </section>
          """))
        <p id="connection" class="connection" role="status" aria-live="polite"></p>
        <div id="board">\(boardBody(view, me: me, commands: "\(page)/commands", now: now))</div>
        \(HTML.when(me.canParticipate && m.status.isOpen, proposeForm(board.settings, commands: "\(page)/commands", fields: fields)))
        <section id="notes" class="notes" aria-labelledby="notes-title" data-can-edit="\(me.canParticipate ? "true" : "false")">
        <h2 id="notes-title">Notes <a class="download" href="\(page)/notes.md">Markdown</a></h2>
        <div id="notes-body">\(NotesView.html(board, document: notes))</div>
        </section>
        </article>
        """)
    }

    static func boardBody(_ board: PublicBoard, me: PersonalBoard, commands: String, now: Date) -> HTML {
        let m = board.meeting
        let current = board.clock.flatMap { clock in board.topics.first { $0.id == clock.topicId } }
        let agenda = board.topics.filter { $0.status == .queued }
        let discussed = board.topics.filter { $0.status == .done }
        let carried = board.topics.filter { $0.status == .carriedOver }
        func command(_ type: String, _ label: String, topic: UUID? = nil, extra: [String: String] = [:], style: String = "",
                     aria: String? = nil) -> HTML {
            let inputs: [HTML] = extra.sorted { $0.key < $1.key }.map { #"<input type="hidden" name="\#($0.key)" value="\#($0.value)">"# }
            return """
            <form method="post" action="\(commands)" class="inline" data-command>
            <input type="hidden" name="type" value="\(type)">\(topic.map { t -> HTML in "<input type=\"hidden\" name=\"topicId\" value=\"\(t)\">" } ?? "")\(inputs)
            <button type="submit" class="\(style)"\(aria.map { a -> HTML in " aria-label=\"\(a)\"" } ?? "")>\(label)</button></form>
            """
        }
        let status: HTML = """
        <p class="meeting-status"><span class="status \(m.status.rawValue)">\(m.status.rawValue)</span>
        \(m.skipReason.map { r -> HTML in " <span class=\"skip-reason\">\(r)</span>" } ?? "")
        · \(me.canParticipate ? "You have \(me.votesLeft) of \(board.settings.votesPerParticipant) votes left" : (me.signedIn ? "Read only" : "Sign in to propose and vote"))</p>
        """
        var clock: HTML = ""
        if let clockInfo = board.clock, let current {
            let remaining = max(0, Int((Double(clockInfo.deadline - now.millis) / 1000).rounded(.up)))
            let phase = clockInfo.phase == .discussing ? "Discussing" : "Time is up: keep going?"
            let thumbs: [HTML] = Thumb.allCases.map { thumb in
                let label = switch thumb { case .up: "👍 More"; case .sideways: "👉 Either"; case .down: "👎 Next" }
                return command("revote", label, extra: ["thumb": thumb.rawValue], style: me.thumb == thumb ? "chosen" : "",
                               aria: "Re-vote \(thumb.rawValue)")
            }
            clock = """
            <section id="clock" class="clock \(clockInfo.phase.rawValue)" data-deadline="\(String(clockInfo.deadline))" data-server-now="\(String(now.millis))" aria-labelledby="clock-title">
            <h2 id="clock-title">\(phase)</h2>
            <p class="current">\(topicLabel(current.tag, current.title, current.proposerName))</p>
            <p class="remaining"><time class="countdown" aria-live="off">\(String(format: "%d:%02d", remaining / 60, remaining % 60))</time> left\(clockInfo.phase == .revote ? " to re-vote" : "")</p>
            \(HTML.when(clockInfo.phase == .revote, """
              <p class="tally">👍 \(clockInfo.tally.up) · 👉 \(clockInfo.tally.sideways) · 👎 \(clockInfo.tally.down)\(clockInfo.nextExtensionMinutes.map { " — a majority of 👍 adds \($0) min" } ?? "")</p>
              \(HTML.when(me.canParticipate, "<div class=\"thumbs\">\(thumbs)</div>"))
              """))
            \(HTML.when(me.canFacilitate, """
              <div class="facilitate">\(HTML.when(clockInfo.phase == .revote, command("closeRevote", "Count the re-vote now")))\(command("extend", "Extend by hand"))\(command("endTopic", "End topic"))</div>
              """))
            </section>
            """
        }
        let facilitate: HTML = HTML.when(me.canFacilitate && m.status.isOpen, """
          <div class="facilitate">
          \(HTML.when(m.status == .upcoming, command("startMeeting", "Start meeting")))
          \(HTML.when(board.clock == nil && !agenda.isEmpty, command("startTopic", "Start next topic", extra: ["topicId": ""], style: "primary")))
          \(command("endMeeting", "End meeting"))
          \(HTML.when(m.status == .upcoming, """
            <form method="post" action="\(commands)" class="inline" data-command><input type="hidden" name="type" value="skip">
            <label>Reason <input name="reason" required maxlength="500" placeholder="Low attendance"></label> <button type="submit">Skip meeting</button></form>
            """))
          </div>
          """)
        func topicItem(_ topic: PublicBoard.TopicInfo) -> HTML {
            let mine = me.votes[topic.id.uuidString] ?? 0
            let history: [HTML] = topic.voteHistory.map { "<li>\($0.votes) vote\($0.votes == 1 ? "" : "s") on \($0.meetingDate)</li>" }
            let discussedFor: HTML = topic.discussedSeconds.map { secs in
                "<span class=\"duration\">discussed \(secs / 60) min\(topic.extensionsUsed > 0 ? " (\(topic.timeBoxMinutes ?? 0) + \(topic.extensionsUsed) extension\(topic.extensionsUsed == 1 ? "" : "s"))" : "")</span>"
            } ?? ""
            return """
            <li class="topic \(topic.status.rawValue)" id="topic-\(topic.id)">
            <span class="votes" aria-label="\(topic.votes) votes">\(topic.votes)</span>
            <div class="body"><p class="title">\(topicLabel(topic.tag, topic.title, topic.proposerName))</p>
            \(HTML.when(!topic.description.isEmpty, "<p class=\"description\">\(topic.description)</p>"))
            \(HTML.when(!history.isEmpty, "<ul class=\"history\" aria-label=\"Carried over\">\(history)</ul>"))
            \(discussedFor)
            </div>
            \(HTML.when(topic.status == .queued && me.canParticipate && m.status.isOpen, """
              <div class="vote">\(HTML.when(mine > 0, "<span class=\"mine\">yours: \(mine)</span>"))
              \(HTML.when(mine > 0, command("unvote", "−", topic: topic.id, aria: "Take back a vote from \(topic.title)")))
              \(command("vote", "+", topic: topic.id, aria: "Vote for \(topic.title)"))
              \(HTML.when(me.canFacilitate && board.clock == nil, command("startTopic", "Start", topic: topic.id, aria: "Start \(topic.title)")))
              </div>
              """))
            </li>
            """
        }
        let presence: [HTML] = board.present.map { "<li>\($0.name)</li>" }
        return """
        \(status)
        \(clock)
        \(facilitate)
        <section class="agenda" aria-labelledby="agenda-title"><h2 id="agenda-title">Agenda</h2>
        \((agenda.isEmpty ? "<p class=\"muted empty\">No topics yet.</p>" : "<ol class=\"topics\">\(agenda.map(topicItem))</ol>") as HTML)
        </section>
        \(HTML.when(!discussed.isEmpty, "<section class=\"discussed\" aria-labelledby=\"discussed-title\"><h2 id=\"discussed-title\">Discussed</h2><ol class=\"topics\">\(discussed.map(topicItem))</ol></section>"))
        \(HTML.when(!carried.isEmpty, "<section class=\"carried\" aria-labelledby=\"carried-title\"><h2 id=\"carried-title\">Carried over to the next meeting</h2><ol class=\"topics\">\(carried.map(topicItem))</ol></section>"))
        <aside class="presence" aria-label="Here now"><h2>Here now</h2><ul>\(presence)</ul></aside>
        """
    }

    /// "[tag] Title (Proposer)", leaving out what an imported topic may lack; the same as `topicLabel` in `Public/board-render.js`.
    static func topicLabel(_ tag: String, _ title: String, _ proposer: String) -> HTML {
        "\(HTML.when(!tag.isEmpty, "<span class=\"tag\">[\(tag)]</span> "))\(title)\(HTML.when(!proposer.isEmpty, " <span class=\"proposer\">(\(proposer))</span>"))"
    }

    static func proposeForm(_ settings: SeriesSettings, commands: String, fields: [String: String]) -> HTML {
        let chosen = fields["tag"] ?? settings.tags.first ?? ""
        let options: [HTML] = settings.tags.map { "<option value=\"\($0)\"\(HTML.when($0 == chosen, " selected"))>[\($0)]</option>" }
        return """
        <section class="propose" aria-labelledby="propose-title"><h2 id="propose-title">Propose a topic</h2>
        <form method="post" action="\(commands)" class="stack" data-command data-reset>
          <input type="hidden" name="type" value="propose">
          <div class="row">
          <label>Intention <select name="tag">\(options)</select></label>
          <label class="grow">Title <input name="title" required maxlength="\(Board.maxTitleLength)" value="\(fields["title"] ?? "")" placeholder="How should services announce breaking changes?"></label>
          </div>
          <label>Description (optional) <textarea name="description" maxlength="\(Board.maxDescriptionLength)">\(fields["description"] ?? "")</textarea></label>
          <button type="submit" class="primary">Propose</button>
        </form>
        </section>
        """
    }
}
