import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

/// HTML pages and the form posts behind them. Form posts redirect (303) on success and re-render
/// the page with the message and the person's input on error, so nothing typed is lost.
struct PageController: Sendable {
    let app: AppServices

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/") { _, context in try await self.home(context) }
        router.get("/search") { request, context in
            let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { $1 })
            guard let q = query["q"], !q.isEmpty else { return Page.search(user: context.user, query: query, results: nil, notice: nil) }
            do {
                let results = try await SearchService(store: self.app.store).search(q, user: context.user, space: query["space"],
                                                                                   tag: query["tag"], from: query["from"], to: query["to"])
                return Page.search(user: context.user, query: query, results: results, notice: nil)
            } catch {
                guard let appError = AppError.from(error) else { throw error }
                return Page.search(user: context.user, query: query, results: [], notice: appError.message)
            }
        }
        router.get("/setup") { request, context in
            let token = request.uri.queryParameters.get("token") ?? ""
            guard try await self.app.store.hasPendingSetupToken() else { throw StoreError.setupClosed }
            return Page.authForm("Create the administrator account", action: "/setup", user: context.user, fields: [:],
                                 notice: nil, includeName: true, hidden: ["token": token])
        }
        router.post("/setup") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                let user = try await self.app.accounts.setUp(fields)
                let cookie = try await self.app.auth.startSession(for: user, replacing: context.sessionTokenHash)
                return Response.seeOther("/", cookie: cookie)
            } catch let error where AppError.from(error)?.status != .gone {
                return try self.formError(error, request: request, context: context) { notice in
                    Page.authForm("Create the administrator account", action: "/setup", user: nil, fields: fields,
                                  notice: notice, includeName: true, hidden: ["token": fields["token"] ?? ""])
                }
            }
        }
        router.get("/signup") { request, context in
            Page.authForm("Sign up", action: "/signup", user: context.user, fields: [:], notice: nil, includeName: true,
                          next: request.uri.queryParameters.get("next"))
        }
        router.post("/signup") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                let user = try await self.app.accounts.signUp(fields)
                let cookie = try await self.app.auth.startSession(for: user, replacing: context.sessionTokenHash)
                return Response.seeOther(safeRedirectTarget(fields["next"]), cookie: cookie)
            } catch {
                return try self.formError(error, request: request, context: context) { notice in
                    Page.authForm("Sign up", action: "/signup", user: nil, fields: fields, notice: notice, includeName: true, next: fields["next"])
                }
            }
        }
        router.get("/signin") { request, context in
            Page.authForm("Sign in", action: "/signin", user: context.user, fields: [:], notice: nil, includeName: false,
                          next: request.uri.queryParameters.get("next"))
        }
        router.post("/signin") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                let user = try await self.app.auth.signIn(email: fields["email"] ?? "", password: fields["password"] ?? "")
                let cookie = try await self.app.auth.startSession(for: user, replacing: context.sessionTokenHash)
                return Response.seeOther(safeRedirectTarget(fields["next"]), cookie: cookie)
            } catch {
                return try self.formError(error, request: request, context: context) { notice in
                    Page.authForm("Sign in", action: "/signin", user: nil, fields: ["email": fields["email"] ?? ""], notice: notice,
                                  includeName: false, next: fields["next"])
                }
            }
        }
        router.post("/signout") { _, context in
            Response.seeOther("/", cookie: try await self.app.auth.endSession(hash: context.sessionTokenHash))
        }
        router.get("/spaces/new") { request, context in
            guard let user = context.user else { return Response.seeOther("/signin?next=/spaces/new") }
            return try Page.newSpace(user: user, fields: [:], notice: nil).response(from: request, context: context)
        }
        router.post("/spaces") { request, context in
            var request = request
            let user = try context.requireUser()
            let fields = try await request.fields(context: context)
            do {
                let space = try await self.app.accounts.createSpace(fields, owner: user)
                return Response.seeOther(Paths.space(space.slug))
            } catch {
                return try self.formError(error, request: request, context: context) { Page.newSpace(user: user, fields: fields, notice: $0) }
            }
        }

        let space = router.group("s/:space").add(middleware: SpaceAccessMiddleware(store: app.store))
        space.get { _, context in try await self.spacePage(context) }
        space.post("members") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                try await self.app.accounts.setMember(fields, context: context)
                return Response.seeOther(Paths.space(try context.requireAccess().space.slug))
            } catch {
                return try await self.spacePage(context, error: error, request: request)
            }
        }
        space.post("members/remove") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            try await self.app.accounts.removeMember(fields["userId"] ?? "", context: context)
            return Response.seeOther(Paths.space(try context.requireAccess().space.slug))
        }
        space.post("series") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                let series = try await self.app.accounts.createSeries(fields, context: context)
                return Response.seeOther(Paths.series(series.spaceSlug, series.series.slug))
            } catch {
                return try await self.spacePage(context, error: error, request: request, fields: fields)
            }
        }
        space.get(":series") { request, context in
            try await self.seriesPage(context, page: Int(request.uri.queryParameters.get("page") ?? "") ?? 0)
        }
        space.get("topics/:topic") { _, context in try await self.topicPage(context) }
        space.get("people/:person") { _, context in try await self.personPage(context) }
        space.get(":series/:date/history") { request, context in
            try await self.historyPage(context, page: Int(request.uri.queryParameters.get("page") ?? "") ?? 0)
        }
        space.post(":series/meetings") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            do {
                let (series, meeting) = try await self.app.accounts.addMeeting(fields, context: context)
                return Response.seeOther(Paths.meeting(try context.requireAccess().space.slug, series.slug, meeting.date))
            } catch {
                return try await self.seriesPage(context, page: 0, error: error, request: request)
            }
        }
        space.get(":series/:date") { _, context in try await self.meetingPage(context) }
        space.get(":series/:date/notes.md") { _, context in
            let (series, board) = try await self.app.resolver.board(context)
            let markdown = ArchiveExport.markdown(title: "\(series.name) — \(board.meeting.date)", description: "",
                                                  meetings: [ArchivedMeeting(board: board, notes: try await self.app.notesDocument(board))])
            var headers = HTTPFields()
            headers[.contentType] = "text/markdown; charset=utf-8"
            headers[.contentDisposition] = "inline; filename=\"\(series.slug)-\(board.meeting.date).md\""
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: markdown)))
        }
        // Exports and feeds; the access middleware has already answered 404 to outsiders.
        space.get("export") { request, context in
            try await self.export(request, context, series: nil, date: nil)
        }
        space.get("feed.atom") { _, context in
            try await self.app.archive.export(.atom, space: try context.requireAccess().space, series: nil, date: nil).response(download: false)
        }
        space.get(":series/export") { request, context in
            try await self.export(request, context, series: try await self.app.resolver.series(context).slug, date: nil)
        }
        space.get(":series/feed.atom") { _, context in
            let series = try await self.app.resolver.series(context)
            return try await self.app.archive.export(.atom, space: try context.requireAccess().space, series: series.slug, date: nil).response(download: false)
        }
        space.get(":series/calendar.ics") { _, context in
            let series = try await self.app.resolver.series(context)
            return try await self.app.archive.calendar(space: try context.requireAccess().space, series: series).response(download: false)
        }
        space.get(":series/:date/export") { request, context in
            let (series, board) = try await self.app.resolver.board(context)
            return try await self.export(request, context, series: series.slug, date: board.meeting.date)
        }
        space.post(":series/:date/commands") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let (series, board) = try await self.app.resolver.board(context)
            let page = Paths.meeting(try context.requireAccess().space.slug, series.slug, board.meeting.date)
            do {
                let command = try BoardCommand(fields: fields)
                let actor = try self.app.resolver.actor(context)
                try await self.app.boards.execute(command, by: actor, spaceID: board.meeting.spaceID, meetingID: board.meeting.id)
                let anchor = fields["topicId"].flatMap { $0.isEmpty ? nil : "#topic-\($0)" } ?? ""
                return Response.seeOther(page + anchor)
            } catch {
                return try await self.meetingPage(context, error: error, request: request, fields: fields)
            }
        }
    }

    /// `?format=markdown|html|json|confluence|atom` of a space, a series or a meeting, as a download.
    private func export(_ request: Request, _ context: AppRequestContext, series: String?, date: LocalDate?) async throws -> Response {
        let name = request.uri.queryParameters.get("format") ?? "markdown"
        guard let format = ArchiveExport.Format(rawValue: name) else {
            throw AppError(.badRequest, "Unknown format \"\(name.prefix(40))\"; choose one of " + ArchiveExport.Format.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return try await app.archive.export(format, space: try context.requireAccess().space, series: series, date: date).response(download: true)
    }

    private func home(_ context: AppRequestContext) async throws -> HTML {
        let spaces = try await app.store.spaces(visibleTo: context.user)
        let pending = try await app.store.hasPendingSetupToken()
        return Page.home(user: context.user, spaces: spaces, setupPending: pending)
    }

    private func spacePage(_ context: AppRequestContext, error: (any Error)? = nil, request: Request? = nil,
                           fields: [String: String] = [:]) async throws -> Response {
        let access = try context.requireAccess()
        let series = try await app.store.series(spaceID: access.space.id)
        let members = access.role != nil || access.isAdmin ? try await app.store.members(spaceID: access.space.id) : []
        let actions = try await app.store.actionBullets(spaceID: access.space.id).filter { $0.item?.status == .open }
        let watching = try await NotifyOperations(app: app).isWatching(context.user, .space, access.space.id)
        let webhooks: HTML = access.canManage
            ? Page.webhooksSection(access.space, hooks: try await app.store.webhooks(spaceID: access.space.id),
                                   dead: try await app.store.deliveries(spaceID: access.space.id, state: .dead, limit: 50))
            : ""
        return try await render(error, context: context) { notice in
            Page.space(access, user: context.user, series: series, members: members, actions: actions, watching: watching, webhooks: webhooks,
                       notice: notice, fields: fields)
        }
    }

    static let meetingsPerPage = 25

    private func seriesPage(_ context: AppRequestContext, page: Int = 0, error: (any Error)? = nil, request: Request? = nil) async throws -> Response {
        let access = try context.requireAccess()
        let series = try await app.resolver.series(context)
        let all = try await app.store.meetings(spaceID: access.space.id, seriesID: series.id)
        let pages = max(1, (all.count + Self.meetingsPerPage - 1) / Self.meetingsPerPage)
        let page = min(max(0, page), pages - 1)
        let shown = Array(all.dropFirst(page * Self.meetingsPerPage).prefix(Self.meetingsPerPage))
        let counts = try await app.store.topicCounts(spaceID: access.space.id, meetingIDs: shown.map(\.id))
        let watching = try await NotifyOperations(app: app).isWatching(context.user, .series, series.id)
        return try await render(error, context: context) { notice in
            Page.series(access, user: context.user, series: series, meetings: shown, topicCounts: counts, page: page, pages: pages,
                        watching: watching, notice: notice)
        }
    }

    private func seriesByID(_ spaceID: UUID) async throws -> [UUID: Series] {
        Dictionary(try await app.store.series(spaceID: spaceID).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private func topicPage(_ context: AppRequestContext) async throws -> Response {
        let access = try context.requireAccess()
        guard let raw = context.parameters.get("topic"), let id = UUID(uuidString: raw) else { throw AppError.notFound("No such topic") }
        let index = try await app.store.topicIndex(spaceID: access.space.id)
        guard let ref = index.first(where: { $0.topic.id == id }) else { throw AppError.notFound("No such topic") }
        let bySeries = try await seriesByID(access.space.id)
        guard let series = bySeries[ref.seriesID],
              let board = try await app.store.board(spaceID: access.space.id, meetingID: ref.topic.meetingID) else { throw AppError.notFound("No such topic") }
        let notes = try await app.notesDocument(board)
        let related = TopicHistory.related(to: ref, among: index)
        let comments = try await app.store.comments(meetingID: board.meeting.id).filter { $0.topicID == id }
        let watching = try await NotifyOperations(app: app).isWatching(context.user, .topic, id)
        return try Page.topic(access, user: context.user, ref: ref, series: series, votes: board.votes(on: id), notes: notes,
                              related: related, seriesByID: bySeries, comments: comments, watching: watching)
            .response(from: Request.placeholder, context: context)
    }

    private func personPage(_ context: AppRequestContext) async throws -> Response {
        let access = try context.requireAccess()
        let name = (context.parameters.get("person")?.removingPercentEncoding ?? "").trimmingCharacters(in: .whitespaces)
        guard (1...120).contains(name.count) else { throw AppError.notFound("No such person") }
        let topics = try await app.store.topicIndex(spaceID: access.space.id)
            .filter { $0.topic.proposerName.caseInsensitiveCompare(name) == .orderedSame }
        let actions = try await app.store.actionBullets(spaceID: access.space.id).filter { $0.item?.isOwned(by: name) == true }
        guard !topics.isEmpty || !actions.isEmpty else { throw AppError.notFound("Nobody called \(name.prefix(60)) proposed a topic or owns an action item here") }
        return try Page.person(access, user: context.user, name: topics.first?.topic.proposerName ?? name, topics: topics, actions: actions,
                               seriesByID: try await seriesByID(access.space.id)).response(from: Request.placeholder, context: context)
    }

    private func historyPage(_ context: AppRequestContext, page: Int) async throws -> Response {
        let access = try context.requireAccess()
        let (series, board) = try await app.resolver.board(context)
        let entries = try await app.store.noteEntries(meetingID: board.meeting.id, after: 0, limit: 1_000_000)
        let revisions = NotesHistory.revisions(entries)
        var names: [UUID: String] = [:]
        for id in Set(revisions.compactMap(\.userID)) { names[id] = try await app.store.user(id: id)?.name }
        let pageSize = 100
        let page = min(max(0, page), max(0, (revisions.count - 1) / pageSize))
        return try Page.history(access, user: context.user, series: series, meeting: board.meeting, revisions: revisions, names: names,
                                page: page, pageSize: pageSize).response(from: Request.placeholder, context: context)
    }

    private func meetingPage(_ context: AppRequestContext, error: (any Error)? = nil, request: Request? = nil,
                             fields: [String: String] = [:]) async throws -> Response {
        let access = try context.requireAccess()
        var (series, board) = try await app.resolver.board(context)
        let now = app.now()
        board.advance(to: now)
        let present = await app.hub.present(meetingID: board.meeting.id)
        let notes = try await app.notesDocument(board)
        // Open action items of earlier meetings of the series, shown at the top of the next ones until closed.
        let openActions = board.meeting.status.isOpen ? try await app.store.actionBullets(spaceID: access.space.id).filter {
            $0.seriesID == series.id && $0.meetingDate < board.meeting.date && $0.item?.status == .open
        } : []
        // Keep the typed proposal only when the failed command was a proposal.
        let kept = fields["type"] == "propose" ? fields : [:]
        let watching = try await NotifyOperations(app: app).isWatching(context.user, .meeting, board.meeting.id)
        return try await render(error, context: context) { notice in
            Page.meeting(access, user: context.user, series: series, board: board, notes: notes, present: present, now: now,
                         openActions: openActions, watching: watching, notice: notice, fields: kept)
        }
    }

    /// Renders a page, with the error's message and status when there is one.
    private func render(_ error: (any Error)?, context: AppRequestContext, _ page: (String?) -> HTML) async throws -> Response {
        guard let error else { return try page(nil).response(from: Request.placeholder, context: context) }
        guard let appError = AppError.from(error) else { throw error }
        var response = try page(appError.message).response(from: Request.placeholder, context: context)
        response.status = appError.status
        return response
    }

    private func formError(_ error: any Error, request: Request, context: AppRequestContext, _ page: (String) -> HTML) throws -> Response {
        guard let appError = AppError.from(error) else { throw error }
        var response = try page(appError.message).response(from: request, context: context)
        response.status = appError.status
        return response
    }
}

extension Request {
    /// HTML responses do not depend on the request; this stands in where one is required.
    static var placeholder: Request {
        Request(head: .init(method: .get, scheme: "http", authority: "localhost", path: "/"), body: .init(buffer: .init()))
    }
}
