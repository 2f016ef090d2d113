import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

extension HTTPResponse.Status: HTTPStatusLike {}

extension Page {
    static func space(_ access: SpaceAccess, user: User?, series: [Series], members: [Member], actions: [ActionBullet] = [],
                      watching: Bool = false, webhooks: HTML = "", notice: String? = nil, fields: [String: String] = [:]) -> HTML {
        let space = access.space
        let seriesList: [HTML] = series.map { s in
            "<li><a href=\"\(Paths.series(space.slug, s.slug))\">\(s.name)</a> <span class=\"muted\">\(s.schedule.summary)</span></li>"
        }
        let memberList: [HTML] = members.map { m in
            """
            <li>\(m.user.name) <span class="badge">\(m.role.rawValue)</span>
            \(HTML.when(access.canManage && m.user.id != user?.id, """
              <form method="post" action="\(Paths.space(space.slug))/members/remove" class="inline">
              <input type="hidden" name="userId" value="\(m.user.id)"><button type="submit" class="link">Remove</button></form>
              """))
            </li>
            """
        }
        return layout(space.name, user: user, notice: notice, """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <span>\(space.name)</span></nav>
        <h1>\(space.name) \(visibilityBadge(space.visibility)) \(watchButton(space.slug, .space, space.id, watching: watching, next: Paths.space(space.slug), user: user))</h1>
        \(HTML.when(!space.description.isEmpty, "<p>\(space.description)</p>"))
        <section><h2>Series</h2>
        \((seriesList.isEmpty ? "<p class=\"muted\">No series yet.</p>" : "<ul>\(seriesList)</ul>") as HTML)
        \(HTML.when(user != nil && access.canFacilitate, newSeriesForm(space, fields: fields)))
        \(exportLinks(Paths.space(space.slug), feed: Paths.space(space.slug) + "/feed.atom"))
        </section>
        <section aria-labelledby="actions-title"><h2 id="actions-title">Open action items</h2>
        \(actionList(actions, space: space, series: Dictionary(series.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
                     empty: "No open action items. Mark a notes bullet with [todo] or ACTION: (or press Ctrl+Enter while editing it) to add one."))
        </section>
        <section><h2>Members</h2>
        <ul>\(memberList)</ul>
        \(HTML.when(access.canManage, """
          <form method="post" action="\(Paths.space(space.slug))/members" class="row">
            \(field("Email of a registered person", name: "email", type: "email"))
            <label>Role <select name="role"><option value="member">member</option><option value="facilitator">facilitator</option><option value="owner">owner</option></select></label>
            <button type="submit">Add or change member</button>
          </form>
          """))
        </section>
        \(webhooks)
        """)
    }

    static func newSeriesForm(_ space: Space, fields: [String: String]) -> HTML {
        let weekday = Int(fields["weekday"] ?? "3") ?? 3
        let options: [HTML] = Schedule.weekdayNames.enumerated().map { index, name in
            "<option value=\"\(index + 1)\"\(HTML.when(weekday == index + 1, " selected"))>\(name)</option>"
        }
        return """
        <details\(HTML.when(!fields.isEmpty, " open"))><summary>New series</summary>
        <form method="post" action="\(Paths.space(space.slug))/series" class="stack narrow">
          \(field("Name", name: "name", value: fields["name"] ?? "", extra: "maxlength=\"80\" placeholder=\"Weekly Architecture Hour\""))
          \(field("Slug (used in links)", name: "slug", value: fields["slug"] ?? "", required: false, extra: "maxlength=\"40\" placeholder=\"weekly\""))
          <div class="row">
            <label>Weekday <select name="weekday">\(options)</select></label>
            \(field("Time", name: "time", value: fields["time"] ?? "14:00", type: "time"))
            \(field("Time zone (IANA)", name: "timeZone", value: fields["timeZone"] ?? "America/New_York", extra: "list=\"zones\""))
          </div>
          <div class="row">
            \(field("Time box (min)", name: "timeBoxMinutes", value: fields["timeBoxMinutes"] ?? "10", type: "number", extra: "min=\"1\" max=\"120\""))
            \(field("Extension steps (min)", name: "extensionSteps", value: fields["extensionSteps"] ?? "5, 5", required: false))
            \(field("Votes each", name: "votesPerParticipant", value: fields["votesPerParticipant"] ?? "3", type: "number", extra: "min=\"1\" max=\"50\""))
            \(field("Most votes per topic", name: "maxVotesPerTopic", value: fields["maxVotesPerTopic"] ?? "3", type: "number", extra: "min=\"1\" max=\"50\""))
          </div>
          \(field("Intention tags", name: "tags", value: fields["tags"] ?? SeriesSettings.defaultTags.joined(separator: ", ")))
          <datalist id="zones"><option value="America/New_York"><option value="America/Los_Angeles"><option value="Europe/London"><option value="Europe/Berlin"><option value="Asia/Karachi"><option value="UTC"></datalist>
          <button type="submit">Create series</button>
        </form>
        </details>
        """
    }

    /// The series and one page of its meetings, newest first, with their topic counts.
    static func series(_ access: SpaceAccess, user: User?, series: Series, meetings: [Meeting], topicCounts: [UUID: Int] = [:],
                       page: Int = 0, pages: Int = 1, watching: Bool = false, notice: String? = nil) -> HTML {
        let space = access.space
        let base = Paths.series(space.slug, series.slug)
        let rows: [HTML] = meetings.map { m in
            let topics = topicCounts[m.id] ?? 0
            return """
            <tr><td><a href="\(Paths.meeting(space.slug, series.slug, m.date))">\(m.date)</a></td>
            <td><span class="status \(m.status.rawValue)">\(m.status.rawValue)</span></td>
            <td class="num">\(m.status == .skipped ? "" : "\(topics) topic\(topics == 1 ? "" : "s")")</td>
            <td>\(m.skipReason ?? "")</td></tr>
            """
        }
        let s = series.settings
        return layout(series.name, user: user, notice: notice, """
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/">Spaces</a> › <a href="\(Paths.space(space.slug))">\(space.name)</a> › <span>\(series.name)</span></nav>
        <h1>\(series.name) \(watchButton(space.slug, .series, series.id, watching: watching, next: base, user: user))</h1>
        \(HTML.when(!series.description.isEmpty, "<details class=\"series-description\" open><summary>About this series</summary>\(series.description)</details>"))
        <p>\(series.schedule.summary). Time box \(s.timeBoxMinutes) min, then \(s.extensionSteps.map { "+\($0)" }.joined(separator: ", ")) by re-vote.
        \(s.votesPerParticipant) votes each (at most \(s.maxVotesPerTopic) per topic). Tags: \(s.tags.map { "[\($0)]" }.joined(separator: " ")).</p>
        \(exportLinks(base, feed: base + "/feed.atom", calendar: base + "/calendar.ics"))
        <table class="meetings"><thead><tr><th scope="col">Date</th><th scope="col">Status</th><th scope="col">Topics</th><th scope="col">Note</th></tr></thead>
        <tbody>\(rows)</tbody></table>
        \(pager(base, page: page, pages: pages))
        \(HTML.when(user != nil && access.canFacilitate, """
          <form method="post" action="\(Paths.series(space.slug, series.slug))/meetings" class="row">
            \(field("Add a meeting on", name: "date", type: "date"))
            <button type="submit">Add meeting</button>
          </form>
          """))
        """)
    }
}
