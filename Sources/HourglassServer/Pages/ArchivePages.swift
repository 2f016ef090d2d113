import Foundation
import HourglassCore
import HourglassStore

/// Pages of the archive: topics and their history, people, revision history, action items.
extension Page {
    /// Download links for a space, a series or a meeting (`base` is its page path).
    static func exportLinks(_ base: String, feed: String? = nil, calendar: String? = nil) -> HTML {
        let formats: [HTML] = [("markdown", "Markdown"), ("html", "HTML"), ("confluence", "Confluence"), ("json", "JSON")].map { format, label in
            "<a href=\"\(base)/export?format=\(format)\" download>\(label)</a>"
        }
        return """
        <p class="exports muted">Export: \(formats.interspersed(", "))\(feed.map { f -> HTML in " · <a href=\"\(f)\">Atom feed</a>" } ?? "")\(calendar.map { c -> HTML in " · <a href=\"\(c)\">Calendar (.ics)</a>" } ?? "")</p>
        """
    }

    /// A list of action items, each linking to its bullet.
    static func actionList(_ items: [ActionBullet], space: Space, series: [UUID: Series], empty: String) -> HTML {
        guard !items.isEmpty else { return "<p class=\"muted\">\(empty)</p>" }
        let rows: [HTML] = items.compactMap { action in
            guard let item = action.item, let s = series[action.seriesID] else { return nil }
            let link = Paths.meeting(space.slug, s.slug, action.meetingDate) + "#bullet-\(action.bullet.id)"
            return """
            <li class="action \(item.status.rawValue)"><a href="\(link)">\(item.text.isEmpty ? "(no text)" : item.text)</a>
            <span class="muted">\(item.owner.map { o -> HTML in "· owner <a href=\"\(Paths.person(space.slug, o))\">\(o)</a> " } ?? "")\(item.due.map { d -> HTML in "· due \(d) " } ?? "")· from \(s.name) \(action.meetingDate)</span></li>
            """
        }
        return "<ul class=\"actions\">\(rows)</ul>"
    }

    static func topic(_ access: SpaceAccess, user: User?, ref: TopicRef, series: Series, votes: Int, notes: NotesDocument,
                      related: [TopicHistory.Match], seriesByID: [UUID: Series], comments: [Comment] = [], watching: Bool = false) -> HTML {
        let space = access.space
        let t = ref.topic
        let meeting = Paths.meeting(space.slug, series.slug, ref.meetingDate)
        let section = t.id.uuidString.lowercased()
        let similar: [HTML] = related.map { match in
            let other = match.ref
            let otherSeries = seriesByID[other.seriesID]
            return """
            <li><a href="\(Paths.topic(space.slug, other.topic.id))">\(HTML.when(!other.topic.tag.isEmpty, "[\(other.topic.tag)] "))\(other.topic.title)</a>
            <span class="muted">\(other.topic.proposerName.isEmpty ? "" : "\(other.topic.proposerName), ")\(otherSeries?.name ?? "") \(other.meetingDate)\(match.sharedWords.isEmpty ? "" : " — " + match.sharedWords.prefix(4).joined(separator: ", "))</span></li>
            """
        }
        let dates = related.map(\.ref.meetingDate).sorted().map(\.description)
        return layout(t.title, user: user, script: "comments.js", """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <a href="\(Paths.series(space.slug, series.slug))">\(series.name)</a> › <a href="\(meeting)">\(ref.meetingDate)</a></nav>
        <article class="topic-page">
        <h1 id="topic-\(section)">\(HTML.when(!t.tag.isEmpty, "<span class=\"tag\">[\(t.tag)]</span> "))\(t.title)</h1>
        <p>\(watchButton(space.slug, .topic, t.id, watching: watching, next: Paths.topic(space.slug, t.id), user: user))</p>
        <p class="muted">\(HTML.when(!t.proposerName.isEmpty, "Proposed by <a href=\"\(Paths.person(space.slug, t.proposerName))\">\(t.proposerName)</a> · "))<a href="\(meeting)#topic-\(section)">\(series.name) \(ref.meetingDate)</a> · \(votes) vote\(votes == 1 ? "" : "s")\(ArchiveExport.durationText(t).map { " · \($0)" } ?? "") · \(t.status.rawValue)</p>
        \(HTML.when(!t.description.isEmpty, "<p class=\"description\">\(t.description)</p>"))
        <section aria-labelledby="topic-notes"><h2 id="topic-notes">Notes</h2>
        \((notes.children(of: section).isEmpty ? "<p class=\"muted\">No notes on this topic.</p>" : NotesView.list(notes, section)) as HTML)
        </section>
        <section id="comments" aria-labelledby="comments-title" data-refresh="\(Paths.topic(space.slug, t.id))/comments">
        \(topicComments(access, user: user, topic: t, meetingPath: meeting, comments: comments))
        </section>
        <section aria-labelledby="related-title"><h2 id="related-title">Topics like this</h2>
        \(HTML.when(!dates.isEmpty, "<p>Talked about on \(dates.joined(separator: ", ")).</p>"))
        \((similar.isEmpty ? "<p class=\"muted\">Nothing similar in this space yet.</p>" : "<ul class=\"related\">\(similar)</ul>") as HTML)
        </section>
        </article>
        """)
    }

    /// The comments part of a topic page; also served alone, for open pages to refresh (`Public/comments.js`).
    static func topicComments(_ access: SpaceAccess, user: User?, topic t: Topic, meetingPath: String, comments: [Comment]) -> HTML {
        let space = access.space
        return """
        <div data-version="\(commentsVersion(comments))">
        <h2 id="comments-title">Comments (\(comments.count))</h2>
        \(commentThreads(comments.filter { $0.bulletID == nil }, space: space.slug, user: user, canComment: user != nil && access.canParticipate(signedIn: true),
                         next: Paths.topic(space.slug, t.id), on: ["topicId": t.id.uuidString.lowercased()]))
        \(HTML.when(comments.contains { $0.bulletID != nil }, "<p><a href=\"\(meetingPath)/comments\">Comments on the notes of this topic</a></p>"))
        </div>
        """
    }

    /// Changes whenever a comment is added or edited.
    static func commentsVersion(_ comments: [Comment]) -> String {
        "\(comments.count)-\(comments.map { max($0.createdAt, $0.editedAt ?? $0.createdAt).timeIntervalSince1970 }.max() ?? 0)"
    }

    static func person(_ access: SpaceAccess, user: User?, name: String, topics: [TopicRef], actions: [ActionBullet], seriesByID: [UUID: Series]) -> HTML {
        let space = access.space
        let rows: [HTML] = topics.reversed().map { ref in
            let s = seriesByID[ref.seriesID]
            return """
            <li><a href="\(Paths.topic(space.slug, ref.topic.id))">\(HTML.when(!ref.topic.tag.isEmpty, "[\(ref.topic.tag)] "))\(ref.topic.title)</a>
            <span class="muted">\(s?.name ?? "") \(ref.meetingDate)</span></li>
            """
        }
        let open = actions.filter { $0.item?.status == .open }, done = actions.filter { $0.item?.status == .done }
        return layout(name, user: user, """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <span>\(name)</span></nav>
        <h1>\(name)</h1>
        <section aria-labelledby="proposed"><h2 id="proposed">Topics proposed (\(topics.count))</h2>
        \((rows.isEmpty ? "<p class=\"muted\">No topics proposed in this space.</p>" : "<ol class=\"person-topics\">\(rows)</ol>") as HTML)
        </section>
        <section aria-labelledby="owned"><h2 id="owned">Open action items (\(open.count))</h2>
        \(actionList(open, space: space, series: seriesByID, empty: "No open action items."))
        \(HTML.when(!done.isEmpty, "<details><summary>Done (\(done.count))</summary>\(actionList(done, space: space, series: seriesByID, empty: ""))</details>"))
        </section>
        """)
    }

    static func history(_ access: SpaceAccess, user: User?, series: Series, meeting: Meeting, revisions: [NotesHistory.Revision],
                        names: [UUID: String], page: Int, pageSize: Int) -> HTML {
        let space = access.space
        let path = Paths.meeting(space.slug, series.slug, meeting.date)
        let shown = revisions.dropFirst(page * pageSize).prefix(pageSize)
        let formatter = ISO8601DateFormatter()
        let items: [HTML] = shown.map { r in
            let who = r.userID.flatMap { names[$0] } ?? "Imported or anonymous"
            let change: HTML
            switch r.kind {
            case .created: change = "added <ins>\(r.after)</ins>"
            case .deleted: change = "deleted a bullet"
            case .moved: change = "moved a bullet"
            case .edited:
                if let before = r.before {
                    let pieces: [HTML] = WordDiff.diff(before, r.after).map { piece in
                        switch piece {
                        case let .same(text): "\(text)"
                        case let .added(text): "<ins>\(text)</ins>"
                        case let .removed(text): "<del>\(text)</del>"
                        }
                    }
                    change = "edited: <span class=\"diff\">\(pieces)</span>"
                } else {
                    change = "edited (now: \(r.after))"
                }
            }
            return """
            <li class="revision \(r.kind.rawValue)"><time datetime="\(formatter.string(from: r.to))">\(formatter.string(from: r.to))</time>
            <strong>\(who)</strong> \(change) <a href="\(path)#bullet-\(r.bulletID)" class="muted">bullet</a></li>
            """
        }
        let pages = (revisions.count + pageSize - 1) / pageSize
        return layout("History of \(series.name) \(meeting.date)", user: user, """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <a href="\(Paths.series(space.slug, series.slug))">\(series.name)</a> › <a href="\(path)">\(meeting.date)</a> › <span>History</span></nav>
        <h1>Notes history <span class="muted">\(series.name) \(meeting.date)</span></h1>
        <p class="muted">\(revisions.count) revision\(revisions.count == 1 ? "" : "s"), newest first. Changes by one person to one bullet within five minutes count as one revision.</p>
        \((items.isEmpty ? "<p class=\"muted\">No changes recorded.</p>" : "<ol class=\"revisions\">\(items)</ol>") as HTML)
        \(pager(path + "/history", page: page, pages: pages))
        """)
    }

    /// Previous/next links for a paged list (`page` counts from 0).
    static func pager(_ path: String, page: Int, pages: Int) -> HTML {
        guard pages > 1 else { return "" }
        return """
        <nav class="pager" aria-label="Pages">\(HTML.when(page > 0, "<a href=\"\(path)?page=\(page - 1)\" rel=\"prev\">← Newer</a>"))
        <span>Page \(page + 1) of \(pages)</span>\(HTML.when(page + 1 < pages, "<a href=\"\(path)?page=\(page + 1)\" rel=\"next\">Older →</a>"))</nav>
        """
    }
}

extension [HTML] {
    func interspersed(_ separator: HTML) -> HTML {
        var out = HTML(raw: "")
        for (index, item) in enumerated() {
            if index > 0 { out.rendered += separator.rendered }
            out.rendered += item.rendered
        }
        return out
    }
}
