import Crypto
import Foundation
import HourglassCore

/// Watches, comments, events, inboxes and deliveries: written once on the generic row access, so
/// both backends behave alike. Every change and the event it causes are written in one transaction.
extension HourglassStore {
    // MARK: Watches

    /// Watches a thing on purpose (turning a muted watch back on).
    public func watch(userID: UUID, _ kind: WatchKind, _ target: UUID, spaceID: UUID, now: Date) async throws {
        try await write([.upsert(Watch(userID: userID, kind: kind, targetID: target, spaceID: spaceID, automatic: false, createdAt: now))])
    }

    /// Stops watching; the watch is kept muted, so proposing, commenting or editing does not restore it.
    public func unwatch(userID: UUID, _ kind: WatchKind, _ target: UUID, spaceID: UUID, now: Date) async throws {
        try await write([.upsert(Watch(userID: userID, kind: kind, targetID: target, spaceID: spaceID, automatic: true, muted: true, createdAt: now))])
    }

    public func watchState(userID: UUID, _ kind: WatchKind, _ target: UUID) async throws -> Watch? {
        try await rows(Watch.self, where: [.eq("user_id", .uuid(userID)), .eq("kind", .text(kind.rawValue)), .eq("target_id", .uuid(target))],
                       order: [], limit: 1).first
    }

    /// Every watch of any of the targets, muted ones included (the caller filters).
    public func watchers(of targets: [(WatchKind, UUID)]) async throws -> [Watch] {
        var out: [Watch] = []
        for kind in WatchKind.allCases {
            let ids = targets.filter { $0.0 == kind }.map { StoreValue.uuid($0.1) }
            guard !ids.isEmpty else { continue }
            out += try await rows(Watch.self, where: [.eq("kind", .text(kind.rawValue)), .among("target_id", ids)], order: [], limit: nil)
        }
        return out
    }

    public func watches(userID: UUID) async throws -> [Watch] {
        try await rows(Watch.self, where: [.eq("user_id", .uuid(userID))], order: [("created_at", true)], limit: 500)
    }

    // MARK: Comments

    /// Stores a comment with its event, and makes the author watch what it is on (unless muted).
    public func addComment(_ comment: Comment) async throws {
        let event = NotifyEvent(kind: .comment, spaceID: comment.spaceID, meetingID: comment.meetingID, topicID: comment.topicID,
                                commentID: comment.id, actorID: comment.authorID, at: comment.createdAt)
        let watch = Watch(userID: comment.authorID, kind: comment.topicID == nil ? .meeting : .topic,
                          targetID: comment.topicID ?? comment.meetingID, spaceID: comment.spaceID, automatic: true, createdAt: comment.createdAt)
        try await write([.insert(comment, ifAbsent: false), .insert(event, ifAbsent: false), .insert(watch, ifAbsent: true)])
    }

    /// Replaces a comment's text, keeping the old one in its edit history. Only the author may.
    public func editComment(id: UUID, authorID: UUID, body: String, now: Date) async throws -> Comment {
        guard var comment = try await comment(id: id), comment.authorID == authorID else {
            throw StoreError.notFound("No such comment of yours")
        }
        let edit = CommentEdit(commentID: id, body: comment.body, editedAt: now)
        let changed = try await write([
            .insert(edit, ifAbsent: true),
            .update(table: Comment.databaseTableName, set: ["body": .text(body), "edited_at": .date(now)],
                    where: [.eq("id", .uuid(id)), .eq("author_id", .uuid(authorID)), .eq("body", .text(comment.body))]),
        ])
        guard changed[1] == 1 else { throw StoreError.duplicate("The comment changed meanwhile; reload and try again") }
        comment.body = body
        comment.editedAt = now
        return comment
    }

    public func comment(id: UUID) async throws -> Comment? {
        try await rows(Comment.self, where: [.eq("id", .uuid(id))], order: [], limit: 1).first
    }

    public func comments(meetingID: UUID) async throws -> [Comment] {
        try await rows(Comment.self, where: [.eq("meeting_id", .uuid(meetingID))], order: [("created_at", false)], limit: 5000)
    }

    public func commentEdits(commentID: UUID) async throws -> [CommentEdit] {
        try await rows(CommentEdit.self, where: [.eq("comment_id", .uuid(commentID))], order: [("edited_at", false)], limit: 500)
    }

    // MARK: Events and inboxes

    public func pendingEvents(limit: Int) async throws -> [NotifyEvent] {
        try await rows(NotifyEvent.self, where: [.isNull("processed_at")], order: [("at", false)], limit: limit)
    }

    /// Writes an event's notifications (inbox rows and deliveries, each unique per recipient and
    /// channel) and marks it processed, in one transaction; doing it twice writes nothing new.
    public func fanOut(_ event: NotifyEvent, inbox: [InboxItem], deliveries: [Delivery], now: Date) async throws {
        try await write(inbox.map { .insert($0, ifAbsent: true) } + deliveries.map { .insert($0, ifAbsent: true) }
            + [.update(table: NotifyEvent.databaseTableName, set: ["processed_at": .date(now)], where: [.eq("id", .uuid(event.id))])])
    }

    public func inbox(userID: UUID, limit: Int) async throws -> [InboxItem] {
        try await rows(InboxItem.self, where: [.eq("user_id", .uuid(userID))], order: [("created_at", true)], limit: limit)
    }

    public func unreadCount(userID: UUID) async throws -> Int {
        try await count(InboxItem.databaseTableName, where: [.eq("user_id", .uuid(userID)), .isNull("read_at")])
    }

    /// Marks some (or, with nil, all) of a person's notifications read.
    public func markRead(userID: UUID, ids: [UUID]?, now: Date) async throws {
        var filters: [RowFilter] = [.eq("user_id", .uuid(userID)), .isNull("read_at")]
        if let ids { filters.append(.among("id", ids.map { .uuid($0) })) }
        try await write([.update(table: InboxItem.databaseTableName, set: ["read_at": .date(now)], where: filters)])
    }

    // MARK: Preferences

    public func preferences(userID: UUID) async throws -> [Channel: Cadence] {
        Dictionary(try await rows(Preference.self, where: [.eq("user_id", .uuid(userID))], order: [], limit: nil).map { ($0.channel, $0.cadence) },
                   uniquingKeysWith: { a, _ in a })
    }

    public func setPreference(_ preference: Preference) async throws {
        try await write([.upsert(preference)])
    }

    // MARK: Deliveries

    public func dueDeliveries(now: Date, limit: Int) async throws -> [Delivery] {
        try await rows(Delivery.self, where: [.eq("state", .text(Delivery.State.pending.rawValue)), .le("next_attempt_at", .date(now))],
                       order: [("next_attempt_at", false)], limit: limit)
    }

    /// Takes a due delivery for one attempt: moves its next attempt to `until` unless another
    /// worker did first. A worker that dies mid-attempt leaves it to be retried after `until`.
    public func claim(_ delivery: Delivery, until: Date) async throws -> Bool {
        try await write([.update(table: Delivery.databaseTableName, set: ["next_attempt_at": .date(until)],
                                 where: [.eq("id", .uuid(delivery.id)), .eq("state", .text(Delivery.State.pending.rawValue)),
                                         .eq("next_attempt_at", .date(delivery.nextAttemptAt))])])[0] == 1
    }

    public func markSent(_ delivery: Delivery, now: Date) async throws {
        try await write([.update(table: Delivery.databaseTableName,
                                 set: ["state": .text(Delivery.State.sent.rawValue), "sent_at": .date(now), "attempts": .int(delivery.attempts + 1),
                                       "last_error": .null],
                                 where: [.eq("id", .uuid(delivery.id))])])
    }

    /// Records a failed attempt: retried later with exponential backoff, or dead after `Delivery.maxAttempts`.
    public func markFailed(_ delivery: Delivery, error: String, now: Date) async throws {
        let attempts = delivery.attempts + 1
        let dead = attempts >= Delivery.maxAttempts
        try await write([.update(table: Delivery.databaseTableName,
                                 set: ["state": .text((dead ? Delivery.State.dead : .pending).rawValue), "attempts": .int(attempts),
                                       "last_error": .text(String(error.prefix(500))),
                                       "next_attempt_at": .date(now.addingTimeInterval(Delivery.backoff(afterAttempt: attempts)))],
                                 where: [.eq("id", .uuid(delivery.id))])])
    }

    public func deliveries(spaceID: UUID, state: Delivery.State, limit: Int) async throws -> [Delivery] {
        try await rows(Delivery.self, where: [.eq("space_id", .uuid(spaceID)), .eq("state", .text(state.rawValue))],
                       order: [("created_at", true)], limit: limit)
    }

    public func deliveries(key: String) async throws -> [Delivery] {
        try await rows(Delivery.self, where: [.eq("key", .text(key))], order: [], limit: 10)
    }

    /// Sends a dead delivery again (an owner fixed the webhook, say).
    public func retry(deliveryID: UUID, spaceID: UUID, now: Date) async throws {
        try await write([.update(table: Delivery.databaseTableName,
                                 set: ["state": .text(Delivery.State.pending.rawValue), "attempts": .int(0), "next_attempt_at": .date(now)],
                                 where: [.eq("id", .uuid(deliveryID)), .eq("space_id", .uuid(spaceID)), .eq("state", .text(Delivery.State.dead.rawValue))])])
    }

    // MARK: Webhooks

    public func webhooks(spaceID: UUID) async throws -> [Webhook] {
        try await rows(Webhook.self, where: [.eq("space_id", .uuid(spaceID))], order: [("created_at", false)], limit: 50)
    }

    public func addWebhook(_ webhook: Webhook) async throws { try await write([.insert(webhook, ifAbsent: false)]) }

    public func removeWebhook(id: UUID, spaceID: UUID) async throws {
        try await write([.delete(table: Webhook.databaseTableName, where: [.eq("id", .uuid(id)), .eq("space_id", .uuid(spaceID))])])
    }

    // MARK: Digests of edits after a meeting

    /// Meetings whose notes were edited after the meeting and have been quiet since `before`.
    public func quietDigests(before: Date) async throws -> [NotesDigest] {
        try await rows(NotesDigest.self, where: [.le("last_change_at", .date(before))], order: [("last_change_at", false)], limit: 100)
    }

    /// Turns a digest into its event: edits after `digest.toSeq` (made meanwhile) stay for the next one.
    public func closeDigest(_ digest: NotesDigest, now: Date) async throws {
        let event = NotifyEvent(id: ArchiveImport.stableID("digest", digest.meetingID.uuidString, String(digest.toSeq)), kind: .notesChanged,
                                spaceID: digest.spaceID, meetingID: digest.meetingID, fromSeq: digest.fromSeq, toSeq: digest.toSeq, at: now)
        let table = NotesDigest.databaseTableName
        try await write([
            .insert(event, ifAbsent: true),
            .update(table: table, set: ["from_seq": .int(digest.toSeq + 1)], where: [.eq("meeting_id", .uuid(digest.meetingID))]),
            .delete(table: table, where: [.eq("meeting_id", .uuid(digest.meetingID)), .eq("to_seq", .int(digest.toSeq))]),
        ])
    }

    /// Stores an event on its own (agenda notices and reminders, made by the scheduler); a second
    /// event with the same id is ignored.
    public func record(_ event: NotifyEvent) async throws -> Bool {
        try await write([.insert(event, ifAbsent: true)])[0] == 1
    }

    // MARK: Secrets

    /// A random secret of the installation, made on first use (e.g. for signing unsubscribe links).
    public func secret(named name: String) async throws -> String {
        if let stored = try await rows(Setting.self, where: [.eq("key", .text(name))], order: [], limit: 1).first { return stored.value }
        let value = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        try await write([.insert(Setting(key: name, value: value), ifAbsent: true)])
        return try await rows(Setting.self, where: [.eq("key", .text(name))], order: [], limit: 1).first?.value ?? value
    }
}
