import Foundation
import HourglassCore
import HourglassStore

/// Pages and page parts of watching, comments, the inbox and notification settings.
extension Page {
    /// A Watch / Unwatch button for a thing of a space.
    static func watchButton(_ space: String, _ kind: WatchKind, _ id: UUID, watching: Bool, next: String, user: User?) -> HTML {
        guard user != nil else { return "" }
        return """
        <form method="post" action="\(Paths.space(space))/watch" class="inline watch">
        <input type="hidden" name="kind" value="\(kind.rawValue)"><input type="hidden" name="target" value="\(id)">
        <input type="hidden" name="watching" value="\(watching ? "off" : "on")"><input type="hidden" name="next" value="\(next)">
        <button type="submit" class="\(watching ? "watching" : "")" aria-pressed="\(watching ? "true" : "false")">\(watching ? "Watching ✓" : "Watch")</button>
        </form>
        """
    }

    /// Comments as threads (replies under what they answer), with reply and edit forms.
    static func commentThreads(_ comments: [Comment], space: String, user: User?, canComment: Bool, next: String,
                               on fields: [String: String]) -> HTML {
        let children = Dictionary(grouping: comments, by: \.parentID)
        let formatter = ISO8601DateFormatter()
        func hidden(_ extra: [String: String]) -> HTML {
            let all = fields.merging(extra) { _, b in b }.merging(["next": next]) { _, b in b }
            let inputs: [HTML] = all.sorted { $0.key < $1.key }.map { "<input type=\"hidden\" name=\"\($0.key)\" value=\"\($0.value)\">" }
            return "\(inputs)"
        }
        func thread(_ parent: UUID?) -> HTML {
            let items: [HTML] = (children[parent] ?? []).map { c in
                let body = HTML(raw: HTML.escape(c.body).replacingOccurrences(of: "\n", with: "<br>"))
                return """
                <li class="comment" id="comment-\(c.id)">
                <p class="meta"><strong>\(c.authorName)</strong> <time datetime="\(formatter.string(from: c.createdAt))">\(formatter.string(from: c.createdAt))</time>\(HTML.when(c.editedAt != nil, " <span class=\"muted\">(edited)</span>"))</p>
                <div class="body">\(body)</div>
                \(HTML.when(canComment, """
                  <details class="reply"><summary>Reply</summary><form method="post" action="\(Paths.space(space))/comments" class="stack">
                  \(hidden(["parentId": c.id.uuidString.lowercased()]))<label>Reply <textarea name="body" required maxlength="\(Comment.maxLength)"></textarea></label>
                  <button type="submit">Reply</button></form></details>
                  """))
                \(HTML.when(user?.id == c.authorID, """
                  <details class="edit"><summary>Edit</summary><form method="post" action="\(Paths.space(space))/comments/\(c.id)/edit" class="stack">
                  <input type="hidden" name="next" value="\(next)"><label>Text <textarea name="body" required maxlength="\(Comment.maxLength)">\(c.body)</textarea></label>
                  <button type="submit">Save</button></form></details>
                  """))
                \(thread(c.id))
                </li>
                """
            }
            return items.isEmpty ? "" : "<ol class=\"comments\">\(items)</ol>"
        }
        return """
        \(thread(nil))
        \(HTML.when(canComment, """
          <form method="post" action="\(Paths.space(space))/comments" class="stack comment-form">\(hidden([:]))
          <label>Comment (mention people with @name) <textarea name="body" required maxlength="\(Comment.maxLength)"></textarea></label>
          <button type="submit" class="primary">Comment</button></form>
          """))
        \(HTML.when(user == nil, "<p class=\"muted\"><a href=\"/signin?next=\(next)\">Sign in</a> to comment.</p>"))
        """
    }

    /// Every comment of a meeting, by topic and bullet, with a form to comment on any bullet.
    static func meetingComments(_ access: SpaceAccess, user: User?, series: Series, board: Board, notes: NotesDocument,
                                comments: [Comment], watching: Bool) -> HTML {
        let space = access.space
        let page = Paths.meeting(space.slug, series.slug, board.meeting.date)
        let canComment = user != nil && access.canParticipate(signedIn: true)
        let bulletOptions: [HTML] = notes.bullets.values.filter { !$0.deleted }.sorted { $0.id < $1.id }.prefix(2000).map {
            "<option value=\"\($0.id)\">\(String($0.text.prefix(80)))</option>"
        }
        return layout("Comments · \(series.name) \(board.meeting.date)", user: user, script: "comments.js", """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <a href="\(Paths.series(space.slug, series.slug))">\(series.name)</a> › <a href="\(page)">\(board.meeting.date)</a> › <span>Comments</span></nav>
        <h1>Comments <span class="muted">\(series.name) \(board.meeting.date)</span> \(watchButton(space.slug, .meeting, board.meeting.id, watching: watching, next: page + "/comments", user: user))</h1>
        <div id="meeting-comments" data-refresh="\(page)/comments?fragment=1">
        \(meetingCommentsBody(access, user: user, series: series, board: board, notes: notes, comments: comments))
        </div>
        \(HTML.when(canComment && !bulletOptions.isEmpty, """
          <section><h2>Comment on a bullet</h2><form method="post" action="\(Paths.space(space.slug))/comments" class="stack">
          <input type="hidden" name="meetingId" value="\(board.meeting.id)"><input type="hidden" name="next" value="\(page)/comments">
          <label>Bullet <select name="bulletId">\(bulletOptions)</select></label>
          <label>Comment <textarea name="body" required maxlength="\(Comment.maxLength)"></textarea></label>
          <button type="submit" class="primary">Comment</button></form></section>
          """))
        """)
    }

    /// The refreshable part of the meeting's comments page (`Public/comments.js` swaps it in).
    static func meetingCommentsBody(_ access: SpaceAccess, user: User?, series: Series, board: Board, notes: NotesDocument, comments: [Comment]) -> HTML {
        let space = access.space
        let page = Paths.meeting(space.slug, series.slug, board.meeting.date)
        let canComment = user != nil && access.canParticipate(signedIn: true)
        let byBullet = Dictionary(grouping: comments.filter { $0.bulletID != nil }, by: { $0.bulletID! })
        let sections: [HTML] = byBullet.keys.sorted().map { bullet in
            let text = notes.bullets[bullet]?.text ?? "(deleted bullet)"
            return """
            <section class="bullet-comments" id="bullet-comments-\(bullet)"><h2><a href="\(page)#bullet-\(bullet)">\(text)</a></h2>
            \(commentThreads(byBullet[bullet] ?? [], space: space.slug, user: user, canComment: canComment, next: page + "/comments",
                             on: ["meetingId": board.meeting.id.uuidString.lowercased(), "bulletId": bullet]))
            </section>
            """
        }
        let onTopics = comments.filter { $0.bulletID == nil }
        let topics: [HTML] = board.topics.filter { t in onTopics.contains { $0.topicID == t.id } }.map { t in
            "<li><a href=\"\(Paths.topic(space.slug, t.id))#comments\">\(t.title)</a> (\(onTopics.filter { $0.topicID == t.id }.count))</li>"
        }
        return """
        <div data-version="\(commentsVersion(comments))">
        \((sections.isEmpty && topics.isEmpty ? "<p class=\"muted\">No comments yet.</p>" : "") as HTML)
        \(sections)
        \(HTML.when(!topics.isEmpty, "<section><h2>On topics</h2><ul>\(topics)</ul></section>"))
        </div>
        """
    }

    static func inbox(user: User, items: [InboxItem]) -> HTML {
        let formatter = ISO8601DateFormatter()
        let rows: [HTML] = items.map { item in
            """
            <li class="notification \(item.readAt == nil ? "unread" : "read")">
            <a href="\(item.link)">\(item.title)</a> <time class="muted" datetime="\(formatter.string(from: item.createdAt))">\(formatter.string(from: item.createdAt))</time>
            <p class="body">\(String(item.body.prefix(400)))</p>
            \(HTML.when(item.readAt == nil, """
              <form method="post" action="/inbox/read" class="inline"><input type="hidden" name="id" value="\(item.id)"><button type="submit" class="link">Mark read</button></form>
              """))
            </li>
            """
        }
        let unread = items.filter { $0.readAt == nil }.count
        return layout("Inbox", user: user, """
        <h1>Inbox <span class="muted">\(unread) unread</span></h1>
        \(HTML.when(unread > 0, "<form method=\"post\" action=\"/inbox/read\"><button type=\"submit\">Mark all read</button></form>"))
        \((rows.isEmpty ? "<p class=\"muted\">Nothing yet. Watch a space, a series, a meeting or a topic to hear about it.</p>" : "<ol class=\"inbox\">\(rows)</ol>") as HTML)
        <p><a href="/settings/notifications">Notification settings</a></p>
        """)
    }

    static func notificationSettings(user: User, preferences: [Channel: Cadence], watches: [Watch], emailEnabled: Bool) -> HTML {
        func choice(_ channel: Channel, label: String) -> HTML {
            let current = preferences[channel] ?? .immediate
            let options: [HTML] = Cadence.allCases.filter { channel != .inbox || $0 != .daily }.map { cadence in
                "<label class=\"inline\"><input type=\"radio\" name=\"\(channel.rawValue)\" value=\"\(cadence.rawValue)\"\(HTML.when(cadence == current, " checked"))> \(cadence.rawValue)</label>"
            }
            return "<fieldset><legend>\(label)</legend>\(options)</fieldset>"
        }
        let list: [HTML] = watches.map { w in
            "<li>\(w.kind.rawValue) <code>\(w.targetID)</code> \(w.muted ? "(turned off)" : w.automatic ? "(automatic)" : "")</li>"
        }
        return layout("Notification settings", user: user, """
        <h1>Notification settings</h1>
        <form method="post" action="/settings/notifications" class="stack narrow">
        \(choice(.inbox, label: "In-app inbox"))
        \(choice(.email, label: "Email to \(user.email)" + (emailEnabled ? "" : " (this server has no SMTP server configured)")))
        <p class="muted">Daily sends one email a day with everything new; off sends nothing.</p>
        <button type="submit" class="primary">Save</button>
        </form>
        <section><h2>What you watch</h2>
        <p class="muted">You watch automatically what you propose, comment on or edit. Unwatch it on its page; it then stays off.</p>
        \((list.isEmpty ? "<p class=\"muted\">Nothing yet.</p>" : "<ul>\(list)</ul>") as HTML)
        </section>
        """)
    }

    static func unsubscribe(user: User?, token: String, done: Bool) -> HTML {
        layout("Unsubscribe", user: user, done ? """
        <h1>Unsubscribed</h1><p>You will get no more email from Hourglass. Your inbox keeps everything; change this in <a href="/settings/notifications">notification settings</a>.</p>
        """ : """
        <h1>Stop email from Hourglass?</h1>
        <form method="post" action="/unsubscribe"><input type="hidden" name="token" value="\(token)"><button type="submit" class="primary">Unsubscribe</button></form>
        """)
    }

    /// The webhooks of a space and its dead deliveries, for its owners.
    static func webhooksSection(_ space: Space, hooks: [Webhook], dead: [Delivery]) -> HTML {
        let rows: [HTML] = hooks.map { h in
            """
            <li><code>\(h.url)</code> <span class="badge">\(h.format.rawValue)</span>\(HTML.when(h.format == .generic, " <span class=\"muted\">secret: <code>\(h.secret)</code></span>"))
            <form method="post" action="\(Paths.space(space.slug))/webhooks/\(h.id)/remove" class="inline"><button type="submit" class="link">Remove</button></form></li>
            """
        }
        let failures: [HTML] = dead.map { d in
            """
            <li>\(d.kind.rawValue) to <code>\(d.destination)</code>: \(d.subject) <span class="muted">— \(d.attempts) attempts, \(d.lastError ?? "")</span>
            <form method="post" action="\(Paths.space(space.slug))/deliveries/\(d.id)/retry" class="inline"><button type="submit" class="link">Retry</button></form></li>
            """
        }
        return """
        <section id="webhooks" aria-labelledby="webhooks-title"><h2 id="webhooks-title">Webhooks</h2>
        \((rows.isEmpty ? "<p class=\"muted\">No webhooks.</p>" : "<ul>\(rows)</ul>") as HTML)
        <form method="post" action="\(Paths.space(space.slug))/webhooks" class="row">
          \(field("URL", name: "url", type: "url", extra: "placeholder=\"https://hooks.slack.com/services/…\""))
          <label>Format <select name="format"><option value="slack">Slack-compatible</option><option value="generic">Generic JSON, HMAC-SHA256 signed</option></select></label>
          <button type="submit">Add webhook</button>
        </form>
        \(HTML.when(!failures.isEmpty, "<h3>Failed deliveries</h3><ul class=\"dead\">\(failures)</ul>"))
        </section>
        """
    }
}
