import Foundation
import HourglassCore
import HourglassStore

/// Server-rendered pages. Every page reads well without JavaScript; `board.js` adds live updates.
enum Page {
    static func layout(_ title: String, user: User?, notice: String? = nil, script: String? = nil, _ body: HTML) -> HTML {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Hourglass</title>
        <link rel="stylesheet" href="/public/hourglass.css">
        <link rel="icon" href="/public/favicon.svg" type="image/svg+xml">
        \(script.map { s -> HTML in "<script type=\"module\" src=\"/public/\(s)\"></script>" } ?? "")
        \(HTML.when(user != nil, "<script type=\"module\" src=\"/public/inbox.js\"></script>"))
        </head>
        <body>
        <a class="skip" href="#content">Skip to content</a>
        <header class="site">
          <a class="brand" href="/"><img src="/public/favicon.svg" alt="" width="20" height="20"> Hourglass</a>
          <form method="get" action="/search" class="site-search" role="search"><input type="search" name="q" placeholder="Search notes" aria-label="Search notes" maxlength="1000"></form>
          <nav aria-label="Account">\(accountNav(user))</nav>
        </header>
        <main id="content">
        \(notice.map { n -> HTML in "<p class=\"notice\" role=\"alert\">\(n)</p>" } ?? "")
        \(body)
        </main>
        </body>
        </html>
        """
    }

    private static func accountNav(_ user: User?) -> HTML {
        guard let user else { return #"<a href="/signin">Sign in</a> <a href="/signup">Sign up</a>"# }
        return """
        <a href="/inbox" id="inbox-link" class="inbox-link">Inbox <span class="unread" data-unread hidden></span></a>
        <a href="/settings/notifications" class="muted">Settings</a>
        <span class="me">\(user.name)</span>
        <form method="post" action="/signout" class="inline"><button type="submit" class="link">Sign out</button></form>
        """
    }

    static func error(status: HTTPStatusLike, message: String) -> HTML {
        layout("\(status.code) \(status.reasonPhrase)", user: nil, """
        <h1>\(status.code) \(status.reasonPhrase)</h1>
        <p>\(message)</p>
        <p><a href="/">Back to the start page</a></p>
        """)
    }

    static func home(user: User?, spaces: [Space], setupPending: Bool) -> HTML {
        let list: [HTML] = spaces.map { space in
            """
            <li><a href="\(Paths.space(space.slug))">\(space.name)</a> \(visibilityBadge(space.visibility))
            <span class="muted">\(space.description)</span></li>
            """
        }
        return layout("Spaces", user: user, """
        <h1>Spaces</h1>
        \(HTML.when(setupPending, "<p class=\"notice\">This server has no administrator yet. Open the one-time setup link printed in the server log, or run <code>hourglass user add --admin</code>.</p>"))
        \((list.isEmpty ? "<p class=\"muted\">No spaces yet.</p>" : "<ul class=\"cards\">\(list)</ul>") as HTML)
        \((user != nil ? "<p><a class=\"button\" href=\"/spaces/new\">New space</a></p>" : "<p><a href=\"/signin\">Sign in</a> to create a space or take part.</p>") as HTML)
        """)
    }

    static func visibilityBadge(_ visibility: Visibility) -> HTML {
        visibility == .private ? #"<span class="badge private">private</span>"# : #"<span class="badge">public</span>"#
    }

    /// A labelled input that keeps what the person typed when the form comes back with an error.
    static func field(_ label: String, name: String, value: String = "", type: String = "text", required: Bool = true,
                      extra: HTML = "") -> HTML {
        """
        <label>\(label)
        <input type="\(type)" name="\(name)" value="\(value)"\(HTML.when(required, " required")) \(extra)>
        </label>
        """
    }

    static func authForm(_ title: String, action: String, user: User?, fields: [String: String], notice: String?,
                         includeName: Bool, next: String? = nil, hidden: [String: String] = [:]) -> HTML {
        let hiddenInputs: [HTML] = hidden.sorted { $0.key < $1.key }.map { #"<input type="hidden" name="\#($0.key)" value="\#($0.value)">"# }
        return layout(title, user: user, notice: notice, """
        <h1>\(title)</h1>
        <form method="post" action="\(action)" class="stack narrow">
          \(hiddenInputs)
          \(next.map { n -> HTML in "<input type=\"hidden\" name=\"next\" value=\"\(n)\">" } ?? "")
          \(HTML.when(includeName, field("Name", name: "name", value: fields["name"] ?? "", extra: "autocomplete=\"name\" maxlength=\"80\"")))
          \(field("Email", name: "email", value: fields["email"] ?? "", type: "email", extra: "autocomplete=\"email\""))
          \(field("Password", name: "password", type: "password", extra: includeName ? "autocomplete=\"new-password\" minlength=\"8\"" : "autocomplete=\"current-password\""))
          <button type="submit">\(title)</button>
        </form>
        \(HTML.when(action == "/signin", "<p>No account? <a href=\"/signup\">Sign up</a>.</p>"))
        """)
    }

    static func newSpace(user: User, fields: [String: String], notice: String?) -> HTML {
        let visibility = fields["visibility"] ?? "public"
        return layout("New space", user: user, notice: notice, """
        <h1>New space</h1>
        <form method="post" action="/spaces" class="stack narrow">
          \(field("Name", name: "name", value: fields["name"] ?? "", extra: "maxlength=\"80\" placeholder=\"Architecture Hour\""))
          \(field("Slug (used in links)", name: "slug", value: fields["slug"] ?? "", required: false, extra: "maxlength=\"40\" placeholder=\"arch-hour\" pattern=\"[a-z0-9-]{2,40}\""))
          <label>Description <textarea name="description" maxlength="2000">\(fields["description"] ?? "")</textarea></label>
          <fieldset><legend>Who can read it</legend>
            <label class="choice"><input type="radio" name="visibility" value="public"\(HTML.when(visibility == "public", " checked"))> Public: anyone can read; signed-in people can take part</label>
            <label class="choice"><input type="radio" name="visibility" value="private"\(HTML.when(visibility == "private", " checked"))> Private: members only</label>
          </fieldset>
          <button type="submit">Create space</button>
        </form>
        """)
    }
}

/// What the error page needs of a status.
protocol HTTPStatusLike {
    var code: Int { get }
    var reasonPhrase: String { get }
}
