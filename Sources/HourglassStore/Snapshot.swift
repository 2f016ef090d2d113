import Crypto
import Foundation
import HourglassCore
import Logging

/// Everything a Hourglass installation keeps, as plain values: what `hourglass migrate-data`
/// copies between backends, and (restricted to one space) what a JSON export holds. Sessions, the
/// pending setup token and presence are not part of it (people sign in again after a move).
public struct StoreSnapshot: Codable, Sendable, Equatable {
    public struct Account: Codable, Sendable, Equatable {
        public var user: User
        public var passwordHash: String
    }

    public var users: [Account] = []
    public var spaces: [Space] = []
    public var memberships: [Membership] = []
    public var series: [Series] = []
    public var meetings: [Meeting] = []
    public var topics: [Topic] = []
    public var votes: [VoteRow] = []
    public var bullets: [BulletRow] = []
    public var noteOps: [NoteOpRow] = []
    public var notesHeads: [NotesHead] = []
    // Watches, comments and notifications (read and written through the generic row access).
    public var watches: [Watch] = []
    public var comments: [Comment] = []
    public var commentEdits: [CommentEdit] = []
    public var notifyEvents: [NotifyEvent] = []
    public var inbox: [InboxItem] = []
    public var deliveries: [Delivery] = []
    public var preferences: [Preference] = []
    public var webhooks: [Webhook] = []
    public var notesDigests: [NotesDigest] = []
    /// Installation settings worth keeping (the secret that signs unsubscribe links), not the setup token.
    public var settings: [Setting] = []

    public init() {}

    public init(from decoder: Decoder) throws {
        // Tables added in later versions may be missing from an older file.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        users = try c.decodeIfPresent([Account].self, forKey: .users) ?? []
        spaces = try c.decodeIfPresent([Space].self, forKey: .spaces) ?? []
        memberships = try c.decodeIfPresent([Membership].self, forKey: .memberships) ?? []
        series = try c.decodeIfPresent([Series].self, forKey: .series) ?? []
        meetings = try c.decodeIfPresent([Meeting].self, forKey: .meetings) ?? []
        topics = try c.decodeIfPresent([Topic].self, forKey: .topics) ?? []
        votes = try c.decodeIfPresent([VoteRow].self, forKey: .votes) ?? []
        bullets = try c.decodeIfPresent([BulletRow].self, forKey: .bullets) ?? []
        noteOps = try c.decodeIfPresent([NoteOpRow].self, forKey: .noteOps) ?? []
        notesHeads = try c.decodeIfPresent([NotesHead].self, forKey: .notesHeads) ?? []
        watches = try c.decodeIfPresent([Watch].self, forKey: .watches) ?? []
        comments = try c.decodeIfPresent([Comment].self, forKey: .comments) ?? []
        commentEdits = try c.decodeIfPresent([CommentEdit].self, forKey: .commentEdits) ?? []
        notifyEvents = try c.decodeIfPresent([NotifyEvent].self, forKey: .notifyEvents) ?? []
        inbox = try c.decodeIfPresent([InboxItem].self, forKey: .inbox) ?? []
        deliveries = try c.decodeIfPresent([Delivery].self, forKey: .deliveries) ?? []
        preferences = try c.decodeIfPresent([Preference].self, forKey: .preferences) ?? []
        webhooks = try c.decodeIfPresent([Webhook].self, forKey: .webhooks) ?? []
        notesDigests = try c.decodeIfPresent([NotesDigest].self, forKey: .notesDigests) ?? []
        settings = try c.decodeIfPresent([Setting].self, forKey: .settings) ?? []
    }

    /// Adds the tables kept through the generic row access, read from `store`.
    public mutating func addRows(from store: any HourglassStore) async throws {
        watches = try await store.rows(Watch.self, where: [], order: [], limit: nil)
        comments = try await store.rows(Comment.self, where: [], order: [], limit: nil)
        commentEdits = try await store.rows(CommentEdit.self, where: [], order: [], limit: nil)
        notifyEvents = try await store.rows(NotifyEvent.self, where: [], order: [], limit: nil)
        inbox = try await store.rows(InboxItem.self, where: [], order: [], limit: nil)
        deliveries = try await store.rows(Delivery.self, where: [], order: [], limit: nil)
        preferences = try await store.rows(Preference.self, where: [], order: [], limit: nil)
        webhooks = try await store.rows(Webhook.self, where: [], order: [], limit: nil)
        notesDigests = try await store.rows(NotesDigest.self, where: [], order: [], limit: nil)
        settings = try await store.rows(Setting.self, where: [.eq("key", .text("unsubscribe_secret"))], order: [], limit: nil)
    }

    /// The writes that put those tables into a store (in dependency order).
    public var rowWrites: [RowWrite] {
        let rows: [[any StoredRow]] = [watches, comments, commentEdits, notifyEvents, inbox, deliveries, preferences, webhooks, notesDigests, settings]
        return rows.joined().map { .insert($0, ifAbsent: false) }
    }

    /// The same content in one canonical order, so two snapshots compare and hash alike.
    public var canonical: StoreSnapshot {
        var copy = self
        copy.users.sort { $0.user.id.uuidString < $1.user.id.uuidString }
        copy.spaces.sort { $0.id.uuidString < $1.id.uuidString }
        copy.memberships.sort { ($0.spaceID.uuidString, $0.userID.uuidString) < ($1.spaceID.uuidString, $1.userID.uuidString) }
        copy.series.sort { $0.id.uuidString < $1.id.uuidString }
        copy.meetings.sort { $0.id.uuidString < $1.id.uuidString }
        copy.topics.sort { $0.id.uuidString < $1.id.uuidString }
        copy.votes.sort { ($0.topicID.uuidString, $0.userID.uuidString) < ($1.topicID.uuidString, $1.userID.uuidString) }
        copy.bullets.sort { ($0.meetingID.uuidString, $0.id) < ($1.meetingID.uuidString, $1.id) }
        copy.noteOps.sort { ($0.meetingID.uuidString, $0.seq) < ($1.meetingID.uuidString, $1.seq) }
        copy.notesHeads.sort { $0.meetingID.uuidString < $1.meetingID.uuidString }
        copy.watches.sort { ($0.userID.uuidString, $0.kind.rawValue, $0.targetID.uuidString) < ($1.userID.uuidString, $1.kind.rawValue, $1.targetID.uuidString) }
        copy.comments.sort { $0.id.uuidString < $1.id.uuidString }
        copy.commentEdits.sort { ($0.commentID.uuidString, $0.editedAt) < ($1.commentID.uuidString, $1.editedAt) }
        copy.notifyEvents.sort { $0.id.uuidString < $1.id.uuidString }
        copy.inbox.sort { $0.id.uuidString < $1.id.uuidString }
        copy.deliveries.sort { $0.id.uuidString < $1.id.uuidString }
        copy.preferences.sort { ($0.userID.uuidString, $0.channel.rawValue) < ($1.userID.uuidString, $1.channel.rawValue) }
        copy.webhooks.sort { $0.id.uuidString < $1.id.uuidString }
        copy.notesDigests.sort { $0.meetingID.uuidString < $1.meetingID.uuidString }
        copy.settings.sort { $0.key < $1.key }
        return copy
    }

    /// Row counts per table, for the migration report.
    public var counts: [String: Int] {
        ["users": users.count, "spaces": spaces.count, "memberships": memberships.count, "series": series.count,
         "meetings": meetings.count, "topics": topics.count, "votes": votes.count, "bullets": bullets.count,
         "note_ops": noteOps.count, "notes_heads": notesHeads.count, "watches": watches.count, "comments": comments.count,
         "comment_edits": commentEdits.count, "notify_events": notifyEvents.count, "inbox": inbox.count, "deliveries": deliveries.count,
         "preferences": preferences.count, "webhooks": webhooks.count, "notes_digests": notesDigests.count]
    }

    /// Rows `merge` writes (series, meetings, topics, votes and notes).
    public var contentRowCount: Int {
        series.count + meetings.count + topics.count + votes.count + bullets.count + noteOps.count + notesHeads.count
    }

    /// SHA-256 of the canonical JSON of the whole snapshot.
    public var checksum: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        let data = (try? encoder.encode(canonical)) ?? Data()
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}

/// The last notes sequence number of a meeting, as stored.
public struct NotesHead: Codable, Sendable, Equatable {
    public var meetingID: UUID
    public var seq: Int

    public init(meetingID: UUID, seq: Int) {
        self.meetingID = meetingID
        self.seq = seq
    }
}

/// One participant's dots on one topic, as stored.
public struct VoteRow: Codable, Sendable, Equatable {
    public var meetingID: UUID
    public var topicID: UUID
    public var userID: UUID
    public var count: Int

    public init(meetingID: UUID, topicID: UUID, userID: UUID, count: Int) {
        self.meetingID = meetingID
        self.topicID = topicID
        self.userID = userID
        self.count = count
    }
}

/// Where a store lives: `sqlite:PATH` (a file) or a `postgres://` URL.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(url: String)

    public init(_ text: String) throws {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(url: text)
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else {
            throw StoreError.notFound("\"\(text.prefix(80))\" is neither sqlite:PATH nor a postgres:// URL")
        }
    }

    /// Opens the store, runs `body` with it (PostgreSQL's connection pool running meanwhile) and closes it.
    public func withStore<T: Sendable>(logger: Logger, _ body: @Sendable (any HourglassStore) async throws -> T) async throws -> T {
        switch self {
        case let .sqlite(path):
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            return try await body(try SQLiteStore(path: path))
        case let .postgres(url):
            let store = try await PostgresStore.open(url: url, logger: logger)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    await store.client.run()
                    return nil
                }
                defer { group.cancelAll() }
                return try await body(store)
            }
        }
    }
}

/// Copies a whole installation from one store into an empty one and proves the copy: the target
/// is read back and must have the same counts and checksum as the source.
public enum DataMigration {
    public struct Report: Codable, Sendable {
        public var counts: [String: Int]
        public var checksum: String
    }

    public static func copy(from source: any HourglassStore, to target: any HourglassStore) async throws -> Report {
        var snapshot = try await source.exportSnapshot()
        try await snapshot.addRows(from: source)
        try await target.importSnapshot(snapshot)
        try await target.write(snapshot.rowWrites)
        var copied = try await target.exportSnapshot()
        try await copied.addRows(from: target)
        guard copied.counts == snapshot.counts, copied.checksum == snapshot.checksum else {
            throw StoreError.notFound("The copy differs from the source (counts \(copied.counts) vs \(snapshot.counts)); the target was left as written for inspection")
        }
        return Report(counts: snapshot.counts, checksum: snapshot.checksum)
    }
}
