import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import HummingbirdWebSocket

/// The JSON API: everything the pages do, for scripts and the browser client. Described by
/// `/openapi.json`; errors are problem JSON.
struct APIController: Sendable {
    let app: AppServices

    struct UserView: Encodable {
        var id: UUID
        var name: String
        var email: String?
        var isAdmin: Bool
        init(_ user: User, showEmail: Bool) {
            id = user.id
            name = user.name
            email = showEmail ? user.email : nil
            isAdmin = user.isAdmin
        }
    }

    struct SessionView: Encodable {
        var user: UserView
        /// A bearer token for scripts (`Authorization: Bearer …`); browsers use the cookie.
        var token: String
    }

    struct SpaceView: Encodable {
        var space: Space
        var role: SpaceRole?
        var series: [Series]?
    }

    struct MemberView: Encodable {
        var user: UserView
        var role: SpaceRole
    }

    struct SeriesView: Encodable {
        var series: Series
        var meetings: [MeetingSummary]
    }

    struct MeetingSummary: Encodable {
        var id: UUID
        var date: LocalDate
        var status: MeetingStatus
        var skipReason: String?
        var startsAt: Date
        init(_ m: Meeting) {
            id = m.id
            date = m.date
            status = m.status
            skipReason = m.skipReason
            startsAt = m.startsAt
        }
    }

    /// The notes of a meeting as stored: every bullet (deleted ones too) and the notes sequence number.
    struct NotesView: Encodable, ResponseEncodable {
        var seq: Int
        var bullets: [Bullet]
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let api = router.group("api")
        api.post("setup") { request, context in
            var request = request
            let user = try await self.app.accounts.setUp(try await request.fields(context: context))
            return try await self.session(for: user, context: context, status: .created)
        }
        api.post("signup") { request, context in
            var request = request
            let user = try await self.app.accounts.signUp(try await request.fields(context: context))
            return try await self.session(for: user, context: context, status: .created)
        }
        api.post("signin") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let user = try await self.app.auth.signIn(email: fields["email"] ?? "", password: fields["password"] ?? "")
            return try await self.session(for: user, context: context, status: .ok)
        }
        api.post("signout") { _, context in
            var response = Response(status: .noContent)
            response.setCookie(try await self.app.auth.endSession(hash: context.sessionTokenHash))
            return response
        }
        api.get("search") { request, context in
            let p = request.uri.queryParameters
            guard let q = p.get("q"), !q.isEmpty else { throw AppError(.badRequest, "Give a query: /api/search?q=words") }
            return try await SearchService(store: self.app.store).search(
                q, user: context.user, space: p.get("space"), series: p.get("series"), tag: p.get("tag"),
                proposer: p.get("proposer"), from: p.get("from"), to: p.get("to"), limit: p.get("limit").flatMap { Int($0) } ?? 20)
        }
        api.get("me") { _, context in UserView(try context.requireUser(), showEmail: true) }
        api.get("spaces") { _, context in
            try await self.app.store.spaces(visibleTo: context.user).map { SpaceView(space: $0) }
        }
        api.post("spaces") { request, context in
            var request = request
            let user = try context.requireUser()
            let space = try await self.app.accounts.createSpace(try await request.fields(context: context), owner: user)
            return try self.json(SpaceView(space: space, role: .owner), status: .created, context: context)
        }

        let space = api.group("spaces/:space").add(middleware: SpaceAccessMiddleware(store: app.store))
        space.get { _, context in
            let access = try context.requireAccess()
            return SpaceView(space: access.space, role: access.role, series: try await self.app.store.series(spaceID: access.space.id))
        }
        space.get("members") { _, context in
            let access = try context.requireAccess()
            guard access.role != nil || access.isAdmin else { throw AppError(.forbidden, "Only members can see the member list") }
            return try await self.app.store.members(spaceID: access.space.id).map {
                MemberView(user: UserView($0.user, showEmail: access.canManage), role: $0.role)
            }
        }
        space.post("members") { request, context in
            var request = request
            let member = try await self.app.accounts.setMember(try await request.fields(context: context), context: context)
            return MemberView(user: UserView(member.user, showEmail: true), role: member.role)
        }
        space.delete("members/:user") { _, context in
            try await self.app.accounts.removeMember(context.parameters.get("user") ?? "", context: context)
            return Response(status: .noContent)
        }
        space.get("series") { _, context in try await self.app.store.series(spaceID: try context.requireAccess().space.id) }
        space.post("series") { request, context in
            var request = request
            let created = try await self.app.accounts.createSeries(try await request.fields(context: context), context: context)
            return try self.json(created.series, status: .created, context: context)
        }
        space.get("series/:series") { _, context in
            let series = try await self.app.resolver.series(context)
            let meetings = try await self.app.store.meetings(spaceID: series.spaceID, seriesID: series.id)
            return SeriesView(series: series, meetings: meetings.map(MeetingSummary.init))
        }
        space.post("series/:series/meetings") { request, context in
            var request = request
            let (_, meeting) = try await self.app.accounts.addMeeting(try await request.fields(context: context), context: context)
            return try self.json(MeetingSummary(meeting), status: .created, context: context)
        }
        space.get("series/:series/meetings/:date") { _, context in
            var (_, board) = try await self.app.resolver.board(context)
            board.advance(to: self.app.now())
            return try await self.boardResponse(board, context: context)
        }
        space.get("series/:series/meetings/:date/notes") { _, context in
            let (_, board) = try await self.app.resolver.board(context)
            let state = try await self.app.store.notes(meetingID: board.meeting.id)
            return NotesView(seq: state.seq, bullets: state.bullets.sorted { $0.id < $1.id })
        }
        space.post("series/:series/meetings/:date/commands") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let (_, board) = try await self.app.resolver.board(context)
            let command = try BoardCommand(fields: fields)
            let actor = try self.app.resolver.actor(context)
            let result = try await self.app.boards.execute(command, by: actor, spaceID: board.meeting.spaceID, meetingID: board.meeting.id)
            return try await self.boardResponse(result, context: context)
        }
        space.ws("series/:series/meetings/:date/live") { _, context in
            _ = try await self.app.resolver.board(context)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, wsContext in
            let context = wsContext.requestContext
            guard let access = context.access, let (_, board) = try? await self.app.resolver.board(context) else { return }
            try await self.app.live.serve(board: board, access: access, user: context.user, inbound: inbound, outbound: outbound,
                                          channel: context.channel, logger: wsContext.logger)
        }
    }

    /// The board with the caller's personal part, the same shape as a WebSocket "board" frame.
    private func boardResponse(_ board: Board, context: AppRequestContext) async throws -> Response {
        let access = try context.requireAccess()
        let present = await app.hub.present(meetingID: board.meeting.id)
        let body = #"{"type":"board","serverNow":\#(app.now().millis),"board":\#(JSON.string(PublicBoard(board, present: present))),"me":\#(JSON.string(PersonalBoard(board, user: context.user, access: access)))}"#
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private func session(for user: User, context: AppRequestContext, status: HTTPResponse.Status) async throws -> Response {
        let cookie = try await app.auth.startSession(for: user, replacing: context.sessionTokenHash)
        var response = try json(SessionView(user: UserView(user, showEmail: true), token: cookie.value), status: status, context: context)
        response.setCookie(cookie)
        return response
    }

    private func json<T: Encodable>(_ value: T, status: HTTPResponse.Status, context: AppRequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: JSON.string(value))))
    }
}

extension Space: ResponseEncodable {}
extension Series: ResponseEncodable {}
extension APIController.UserView: ResponseEncodable {}
extension APIController.SpaceView: ResponseEncodable {}
extension APIController.MemberView: ResponseEncodable {}
extension APIController.SeriesView: ResponseEncodable {}
extension APIController.MeetingSummary: ResponseEncodable {}
