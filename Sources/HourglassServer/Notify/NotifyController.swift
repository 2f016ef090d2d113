import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

/// Watching, comments, the inbox, notification settings, webhooks and unsubscribing: one set of
/// operations on flat fields, behind both the pages (forms) and the JSON API.
struct NotifyOperations: Sendable {
    let app: AppServices
    var store: any HourglassStore { app.store }

    /// The thing a `kind` + `target` pair names, checked to belong to the space.
    func target(_ fields: [String: String], access: SpaceAccess) async throws -> (WatchKind, UUID) {
        guard let kind = WatchKind(rawValue: fields["kind"] ?? "") else {
            throw AppError(.badRequest, "kind must be one of space, series, meeting, topic", field: "kind")
        }
        guard let id = UUID(uuidString: fields["target"] ?? "") else { throw AppError(.badRequest, "target must be an id", field: "target") }
        let space = access.space.id
        let found: Bool
        switch kind {
        case .space: found = id == space
        case .series: found = try await store.count(Series.databaseTableName, where: [.eq("id", .uuid(id)), .eq("space_id", .uuid(space))]) == 1
        case .meeting: found = try await store.count(Meeting.databaseTableName, where: [.eq("id", .uuid(id)), .eq("space_id", .uuid(space))]) == 1
        case .topic: found = try await topicMeeting(id, space: space) != nil
        }
        guard found else { throw AppError.notFound("Nothing to watch there") }
        return (kind, id)
    }

    func topicMeeting(_ topicID: UUID, space: UUID) async throws -> Meeting? {
        guard let topic = try await store.rows(Topic.self, where: [.eq("id", .uuid(topicID))], order: [], limit: 1).first else { return nil }
        return try await store.rows(Meeting.self, where: [.eq("id", .uuid(topic.meetingID)), .eq("space_id", .uuid(space))], order: [], limit: 1).first
    }

    /// Watches or unwatches; returns whether the person now watches it.
    func setWatch(_ fields: [String: String], context: AppRequestContext) async throws -> Bool {
        let user = try context.requireUser()
        let access = try context.requireAccess()
        let (kind, id) = try await target(fields, access: access)
        let watching = !["off", "false", "0", "no"].contains((fields["watching"] ?? "on").lowercased())
        if watching {
            try await store.watch(userID: user.id, kind, id, spaceID: access.space.id, now: app.now())
        } else {
            try await store.unwatch(userID: user.id, kind, id, spaceID: access.space.id, now: app.now())
        }
        return watching
    }

    func isWatching(_ user: User?, _ kind: WatchKind, _ id: UUID) async throws -> Bool {
        guard let user else { return false }
        guard let watch = try await store.watchState(userID: user.id, kind, id) else { return false }
        return !watch.muted
    }

    /// A comment on a topic (`topicId`), or on a bullet of a meeting's notes (`bulletId` with
    /// `meetingId`, or with `topicId` when the bullet is in that topic's notes); `parentId` replies.
    func addComment(_ fields: [String: String], context: AppRequestContext) async throws -> Comment {
        let user = try context.requireUser()
        let access = try context.requireAccess()
        guard access.canParticipate(signedIn: true) else { throw AppError(.forbidden, "Only members of this space can comment") }
        let body = try Comment.validBody(fields["body"] ?? "")
        var topicID: UUID?
        let meeting: Meeting
        if let raw = fields["topicId"], !raw.isEmpty {
            guard let id = UUID(uuidString: raw), let found = try await topicMeeting(id, space: access.space.id) else { throw AppError.notFound("No such topic") }
            topicID = id
            meeting = found
        } else if let raw = fields["meetingId"], let id = UUID(uuidString: raw),
                  let found = try await store.rows(Meeting.self, where: [.eq("id", .uuid(id)), .eq("space_id", .uuid(access.space.id))], order: [], limit: 1).first {
            meeting = found
        } else {
            throw AppError(.badRequest, "Say what the comment is on: topicId, or meetingId with bulletId", field: "topicId")
        }
        var bulletID: String?
        if let raw = fields["bulletId"], !raw.isEmpty {
            let notes = try await store.notes(meetingID: meeting.id)
            guard let bullet = notes.bullets.first(where: { $0.id == raw && !$0.deleted }) else { throw AppError.notFound("No such bullet") }
            bulletID = bullet.id
            // The bullet's topic: walk up to its section.
            let byID = Dictionary(notes.bullets.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var section = bullet.parent
            var steps = 0
            while let parent = byID[section], steps < 1000 { section = parent.parent; steps += 1 }
            topicID = UUID(uuidString: section)
        } else if topicID == nil {
            throw AppError(.badRequest, "A comment on meeting notes needs the bulletId", field: "bulletId")
        }
        var parentID: UUID?
        if let raw = fields["parentId"], !raw.isEmpty {
            guard let id = UUID(uuidString: raw), let parent = try await store.comment(id: id), parent.meetingID == meeting.id,
                  parent.topicID == topicID, parent.bulletID == bulletID else {
                throw AppError.notFound("No such comment to reply to")
            }
            parentID = id
        }
        let comment = Comment(spaceID: access.space.id, meetingID: meeting.id, topicID: topicID, bulletID: bulletID, parentID: parentID,
                              authorID: user.id, authorName: user.name, body: body, createdAt: app.now())
        try await store.addComment(comment)
        return comment
    }

    func editComment(_ id: String, fields: [String: String], context: AppRequestContext) async throws -> Comment {
        let user = try context.requireUser()
        let access = try context.requireAccess()
        guard let id = UUID(uuidString: id), let comment = try await store.comment(id: id), comment.spaceID == access.space.id else {
            throw AppError.notFound("No such comment")
        }
        guard comment.authorID == user.id else { throw AppError(.forbidden, "Only the author can edit a comment") }
        return try await store.editComment(id: id, authorID: user.id, body: try Comment.validBody(fields["body"] ?? ""), now: app.now())
    }

    func setPreferences(_ fields: [String: String], user: User) async throws {
        for channel in Channel.allCases {
            guard let raw = fields[channel.rawValue] else { continue }
            guard let cadence = Cadence(rawValue: raw) else {
                throw AppError(.badRequest, "\(channel.rawValue) must be immediate, daily or off", field: channel.rawValue)
            }
            if channel == .inbox, cadence == .daily {
                throw AppError(.badRequest, "The inbox gets every notification as it happens: choose immediate or off", field: "inbox")
            }
            try await store.setPreference(Preference(userID: user.id, channel: channel, cadence: cadence))
        }
    }

    func addWebhook(_ fields: [String: String], context: AppRequestContext) async throws -> Webhook {
        let access = try context.requireAccess()
        guard access.canManage else { throw AppError(.forbidden, "Only owners of this space can add webhooks") }
        guard let format = Webhook.Format(rawValue: fields["format"] ?? "generic") else {
            throw AppError(.badRequest, "format must be slack or generic", field: "format")
        }
        let url = (fields["url"] ?? "").trimmingCharacters(in: .whitespaces)
        do {
            _ = try await WebhookAddress.validate(url, allowPrivate: app.notify.allowPrivateWebhooks)
        } catch let error as DeliveryError {
            throw AppError(.badRequest, error.description, field: "url")
        }
        guard try await store.webhooks(spaceID: access.space.id).count < 10 else { throw AppError(.conflict, "A space can have at most 10 webhooks") }
        let secret = Authenticator.newToken()
        let hook = Webhook(spaceID: access.space.id, url: url, format: format, secret: secret, createdAt: app.now())
        try await store.addWebhook(hook)
        return hook
    }
}

/// The routes of watching, comments, inbox, settings, webhooks and unsubscribing.
struct NotifyController: Sendable {
    let app: AppServices
    var ops: NotifyOperations { NotifyOperations(app: app) }

    func addRoutes(to router: Router<AppRequestContext>) {
        // Pages
        router.get("inbox") { _, context in
            let user = try context.requireUser()
            return Page.inbox(user: user, items: try await app.store.inbox(userID: user.id, limit: 200))
        }
        router.post("inbox/read") { request, context in
            var request = request
            let user = try context.requireUser()
            let fields = try await request.fields(context: context)
            let ids = fields["id"].flatMap(UUID.init(uuidString:)).map { [$0] }
            try await app.store.markRead(userID: user.id, ids: ids, now: app.now())
            return Response.seeOther(safeRedirectTarget(fields["next"] ?? "/inbox"))
        }
        router.get("settings/notifications") { _, context in
            let user = try context.requireUser()
            return Page.notificationSettings(user: user, preferences: try await app.store.preferences(userID: user.id),
                                             watches: try await app.store.watches(userID: user.id), emailEnabled: app.notify.smtp != nil)
        }
        router.post("settings/notifications") { request, context in
            var request = request
            let user = try context.requireUser()
            try await ops.setPreferences(try await request.fields(context: context), user: user)
            return Response.seeOther("/settings/notifications")
        }
        router.get("unsubscribe") { request, context in
            let token = request.uri.queryParameters.get("token") ?? ""
            guard try await Unsubscribe.user(from: token, store: app.store) != nil else { throw AppError.notFound("This unsubscribe link is not valid") }
            return Page.unsubscribe(user: context.user, token: token, done: false)
        }
        // One-click (RFC 8058): the mail client posts without a session; the signed token is the authority.
        router.post("unsubscribe") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let token = request.uri.queryParameters.get("token") ?? fields["token"] ?? ""
            guard let id = try await Unsubscribe.user(from: token, store: app.store) else { throw AppError.notFound("This unsubscribe link is not valid") }
            try await app.store.setPreference(Preference(userID: id, channel: .email, cadence: .off))
            return Page.unsubscribe(user: context.user, token: token, done: true)
        }

        let space = router.group("s/:space").add(middleware: SpaceAccessMiddleware(store: app.store))
        space.post("watch") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            _ = try await ops.setWatch(fields, context: context)
            return Response.seeOther(safeRedirectTarget(fields["next"]))
        }
        space.post("comments") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let comment = try await ops.addComment(fields, context: context)
            return Response.seeOther(safeRedirectTarget(fields["next"]) + "#comment-\(comment.id.uuidString.lowercased())")
        }
        space.post("comments/:comment/edit") { request, context in
            var request = request
            let fields = try await request.fields(context: context)
            let comment = try await ops.editComment(context.parameters.get("comment") ?? "", fields: fields, context: context)
            return Response.seeOther(safeRedirectTarget(fields["next"]) + "#comment-\(comment.id.uuidString.lowercased())")
        }
        space.post("webhooks") { request, context in
            var request = request
            _ = try await ops.addWebhook(try await request.fields(context: context), context: context)
            return Response.seeOther(Paths.space(try context.requireAccess().space.slug) + "#webhooks")
        }
        space.post("webhooks/:hook/remove") { _, context in
            let access = try context.requireAccess()
            guard access.canManage else { throw AppError(.forbidden, "Only owners of this space can remove webhooks") }
            if let id = UUID(uuidString: context.parameters.get("hook") ?? "") { try await app.store.removeWebhook(id: id, spaceID: access.space.id) }
            return Response.seeOther(Paths.space(access.space.slug) + "#webhooks")
        }
        space.post("deliveries/:delivery/retry") { _, context in
            let access = try context.requireAccess()
            guard access.canManage else { throw AppError(.forbidden, "Only owners of this space can retry deliveries") }
            if let id = UUID(uuidString: context.parameters.get("delivery") ?? "") {
                try await app.store.retry(deliveryID: id, spaceID: access.space.id, now: app.now())
            }
            return Response.seeOther(Paths.space(access.space.slug) + "#webhooks")
        }
        space.get(":series/:date/comments") { request, context in
            let access = try context.requireAccess()
            let (series, board) = try await app.resolver.board(context)
            let notes = try await app.notesDocument(board)
            let comments = try await app.store.comments(meetingID: board.meeting.id)
            if request.uri.queryParameters.get("fragment") != nil {
                return Page.meetingCommentsBody(access, user: context.user, series: series, board: board, notes: notes, comments: comments)
            }
            return Page.meetingComments(access, user: context.user, series: series, board: board, notes: notes, comments: comments,
                                        watching: try await ops.isWatching(context.user, .meeting, board.meeting.id))
        }
        space.get("topics/:topic/comments") { _, context in
            let access = try context.requireAccess()
            guard let id = UUID(uuidString: context.parameters.get("topic") ?? ""), let meeting = try await ops.topicMeeting(id, space: access.space.id),
                  let board = try await app.store.board(spaceID: access.space.id, meetingID: meeting.id), let topic = board.topic(id),
                  let series = try await app.store.rows(Series.self, where: [.eq("id", .uuid(meeting.seriesID))], order: [], limit: 1).first else {
                throw AppError.notFound("No such topic")
            }
            let comments = try await app.store.comments(meetingID: meeting.id).filter { $0.topicID == id }
            return Page.topicComments(access, user: context.user, topic: topic, meetingPath: Paths.meeting(access.space.slug, series.slug, meeting.date),
                                      comments: comments)
        }

        // JSON API
        let api = router.group("api")
        api.get("inbox") { _, context in
            let user = try context.requireUser()
            return InboxView(unread: try await app.store.unreadCount(userID: user.id), items: try await app.store.inbox(userID: user.id, limit: 100))
        }
        api.get("inbox/unread") { _, context in
            guard let user = context.user else { return UnreadView(unread: 0) }
            return UnreadView(unread: try await app.store.unreadCount(userID: user.id))
        }
        api.post("inbox/read") { request, context in
            var request = request
            let user = try context.requireUser()
            let fields = try await request.fields(context: context)
            let ids = fields["ids"].map { $0.split(separator: ",").compactMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) } }
            try await app.store.markRead(userID: user.id, ids: ids, now: app.now())
            return UnreadView(unread: try await app.store.unreadCount(userID: user.id))
        }
        api.get("me/preferences") { _, context in
            let user = try context.requireUser()
            let stored = try await app.store.preferences(userID: user.id)
            return PreferencesView(inbox: stored[.inbox] ?? .immediate, email: stored[.email] ?? .immediate)
        }
        api.put("me/preferences") { request, context in
            var request = request
            let user = try context.requireUser()
            try await ops.setPreferences(try await request.fields(context: context), user: user)
            let stored = try await app.store.preferences(userID: user.id)
            return PreferencesView(inbox: stored[.inbox] ?? .immediate, email: stored[.email] ?? .immediate)
        }
        let apiSpace = api.group("spaces/:space").add(middleware: SpaceAccessMiddleware(store: app.store))
        apiSpace.post("watches") { request, context in
            var request = request
            return WatchView(watching: try await ops.setWatch(try await request.fields(context: context), context: context))
        }
        apiSpace.post("comments") { request, context in
            var request = request
            let comment = try await ops.addComment(try await request.fields(context: context), context: context)
            return try JSON.response(comment, status: .created)
        }
        apiSpace.patch("comments/:comment") { request, context in
            var request = request
            let comment = try await ops.editComment(context.parameters.get("comment") ?? "", fields: try await request.fields(context: context), context: context)
            return try JSON.response(comment, status: .ok)
        }
        apiSpace.get("comments/:comment/edits") { _, context in
            let access = try context.requireAccess()
            guard let id = UUID(uuidString: context.parameters.get("comment") ?? ""), let comment = try await app.store.comment(id: id),
                  comment.spaceID == access.space.id else { throw AppError.notFound("No such comment") }
            return try JSON.response(try await app.store.commentEdits(commentID: id), status: .ok)
        }
        apiSpace.get("series/:series/meetings/:date/comments") { _, context in
            let (_, board) = try await app.resolver.board(context)
            return try JSON.response(try await app.store.comments(meetingID: board.meeting.id), status: .ok)
        }
        apiSpace.get("webhooks") { _, context in
            let access = try context.requireAccess()
            guard access.canManage else { throw AppError(.forbidden, "Only owners of this space can see its webhooks") }
            return try JSON.response(try await app.store.webhooks(spaceID: access.space.id), status: .ok)
        }
        apiSpace.post("webhooks") { request, context in
            var request = request
            return try JSON.response(try await ops.addWebhook(try await request.fields(context: context), context: context), status: .created)
        }
        apiSpace.get("deliveries") { request, context in
            let access = try context.requireAccess()
            guard access.canManage else { throw AppError(.forbidden, "Only owners of this space can see its deliveries") }
            let state = Delivery.State(rawValue: request.uri.queryParameters.get("state") ?? "dead") ?? .dead
            return try JSON.response(try await app.store.deliveries(spaceID: access.space.id, state: state, limit: 200).map(DeliveryView.init), status: .ok)
        }
    }

    struct InboxView: ResponseEncodable { var unread: Int; var items: [InboxItem] }
    struct UnreadView: ResponseEncodable { var unread: Int }
    struct WatchView: ResponseEncodable { var watching: Bool }
    struct PreferencesView: ResponseEncodable { var inbox: Cadence; var email: Cadence }
    /// A delivery as its space's owners see it (no message body, no secret).
    struct DeliveryView: Encodable {
        var id: UUID, key: String, kind: Delivery.Kind, destination: String, subject: String, state: Delivery.State, attempts: Int
        var lastError: String?, createdAt: Date, sentAt: Date?
        init(_ d: Delivery) {
            id = d.id; key = d.key; kind = d.kind; destination = d.destination; subject = d.subject; state = d.state; attempts = d.attempts
            lastError = d.lastError; createdAt = d.createdAt; sentAt = d.sentAt
        }
    }
}
