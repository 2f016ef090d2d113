import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

/// Search across everything the caller may read: the JSON API, the page, and the CLI share it.
struct SearchService: Sendable {
    let store: any HourglassStore

    /// A hit with the names and links people need.
    struct Result: Encodable, Sendable {
        var kind: SearchHit.Kind
        var space: String
        var spaceName: String
        var series: String
        var seriesName: String
        var date: String
        var title: String
        /// The snippet with matches wrapped in `[[` and `]]` is not used; `html` carries <mark>.
        var snippet: String
        var url: String
    }

    /// Runs a search for `user` (nil: signed out; `everything`: the local CLI).
    func search(_ query: String, user: User?, everything: Bool = false, space slug: String? = nil, series seriesSlug: String? = nil,
                tag: String? = nil, proposer: String? = nil, from: String? = nil, to: String? = nil, limit: Int = 20) async throws -> [Result] {
        var spaces = everything ? try await store.spaces(visibleTo: User(email: "cli@localhost", name: "cli", isAdmin: true, createdAt: Date()))
                                : try await store.spaces(visibleTo: user)
        if let slug, !slug.isEmpty {
            spaces = spaces.filter { $0.slug == slug }
            guard !spaces.isEmpty else { throw AppError.notFound("No such space") }
        }
        // Series names are read only for the spaces they are needed in, not for every visible space.
        var seriesByID: [UUID: Series] = [:]
        var loaded = Set<UUID>()
        func loadSeries(_ spaceIDs: some Sequence<UUID>) async throws {
            for id in spaceIDs where loaded.insert(id).inserted {
                for s in try await store.series(spaceID: id) { seriesByID[s.id] = s }
            }
        }
        var seriesID: UUID?
        if let seriesSlug, !seriesSlug.isEmpty {
            try await loadSeries(spaces.map(\.id))
            guard let match = seriesByID.values.first(where: { $0.slug == seriesSlug }) else { throw AppError.notFound("No such series") }
            seriesID = match.id
        }
        func date(_ text: String?, _ field: String) throws -> LocalDate? {
            guard let text, !text.isEmpty else { return nil }
            guard let date = LocalDate(text) else { throw ValidationError(field, "must be a date like 2022-12-14") }
            return date
        }
        let filter = SearchFilter(spaceIDs: spaces.map(\.id), seriesID: seriesID, tag: tag.flatMap { $0.isEmpty ? nil : $0.lowercased() },
                                  proposer: proposer.flatMap { $0.isEmpty ? nil : $0 }, from: try date(from, "from"), to: try date(to, "to"),
                                  limit: limit)
        let spacesByID = Dictionary(uniqueKeysWithValues: spaces.map { ($0.id, $0) })
        let hits = try await store.search(SearchTerms(query), filter: filter)
        try await loadSeries(hits.map(\.spaceID))
        return hits.compactMap { hit in
            guard let space = spacesByID[hit.spaceID], let series = seriesByID[hit.seriesID] else { return nil }
            let meeting = Paths.meeting(space.slug, series.slug, hit.meetingDate)
            let url: String
            if let comment = hit.commentID {
                // A comment lives on its topic's page, or on the meeting's comments page.
                url = (hit.topicID.map { Paths.topic(space.slug, $0) } ?? meeting + "/comments") + "#comment-\(comment.uuidString.lowercased())"
            } else {
                url = meeting + (hit.topicID.map { "#topic-\($0.uuidString.lowercased())" } ?? hit.bulletID.map { "#bullet-\($0)" } ?? "")
            }
            return Result(kind: hit.kind, space: space.slug, spaceName: space.name, series: series.slug, seriesName: series.name,
                          date: hit.meetingDate.description, title: hit.title, snippet: hit.snippet, url: url)
        }
    }
}

extension SearchService.Result: ResponseEncodable {}

extension Page {
    static func search(user: User?, query: [String: String], results: [SearchService.Result]?, notice: String?) -> HTML {
        let q = query["q"] ?? ""
        let items: [HTML] = (results ?? []).map { r in
            """
            <li class="hit \(r.kind.rawValue)"><a href="\(r.url)">\(r.kind == .bullet ? "Notes" : r.title)</a>
            <span class="muted">\(r.spaceName) › \(r.seriesName) › \(r.date)</span>
            <p class="snippet">\(highlighted(r.snippet))</p></li>
            """
        }
        let list: HTML = results == nil ? "" : (items.isEmpty ? "<p class=\"muted\">Nothing found.</p>" : "<ol class=\"hits\">\(items)</ol>")
        return layout(q.isEmpty ? "Search" : "\(q) · Search", user: user, notice: notice, """
        <h1>Search</h1>
        <form method="get" action="/search" class="row" role="search">
          <label class="grow">Words, "phrases" or prefix* <input type="search" name="q" value="\(q)" maxlength="1000" autofocus></label>
          <label>Space <input name="space" value="\(query["space"] ?? "")" maxlength="40" placeholder="any"></label>
          <label>Tag <input name="tag" value="\(query["tag"] ?? "")" maxlength="24" placeholder="any"></label>
          <label>From <input type="date" name="from" value="\(query["from"] ?? "")"></label>
          <label>To <input type="date" name="to" value="\(query["to"] ?? "")"></label>
          <button type="submit" class="primary">Search</button>
        </form>
        \(list)
        """)
    }

    /// Escapes a snippet and turns the store's match markers into <mark>.
    static func highlighted(_ snippet: String) -> HTML {
        // The markers are control characters, which escaping drops: escape the pieces between them.
        let pieces = snippet.components(separatedBy: SearchHit.markStart).enumerated().map { index, piece -> String in
            let parts = piece.components(separatedBy: SearchHit.markEnd).map(HTML.escape)
            return index == 0 || parts.count == 1 ? parts.joined() : "<mark>" + parts[0] + "</mark>" + parts.dropFirst().joined()
        }
        return HTML(raw: pieces.joined())
    }
}
