import Foundation

/// What a person can watch. A watch of a space or series covers every meeting and topic in it.
public enum WatchKind: String, Codable, Sendable, CaseIterable {
    case space, series, meeting, topic
}

/// One person watching one thing.
public struct Watch: Codable, Sendable, Equatable {
    public var userID: UUID
    public var kind: WatchKind
    public var targetID: UUID
    public var spaceID: UUID
    /// Made by proposing, commenting or editing rather than by pressing Watch.
    public var automatic: Bool
    /// Turned off: kept so that proposing, commenting or editing does not turn it on again.
    public var muted: Bool
    public var createdAt: Date

    public init(userID: UUID, kind: WatchKind, targetID: UUID, spaceID: UUID, automatic: Bool, muted: Bool = false, createdAt: Date) {
        self.userID = userID
        self.kind = kind
        self.targetID = targetID
        self.spaceID = spaceID
        self.automatic = automatic
        self.muted = muted
        self.createdAt = createdAt
    }
}

/// A comment on a topic or on one bullet of a meeting's notes, possibly a reply to another.
public struct Comment: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var spaceID: UUID
    public var meetingID: UUID
    /// The topic commented on, or the topic whose notes hold the bullet (nil for the meeting's own notes).
    public var topicID: UUID?
    public var bulletID: String?
    public var parentID: UUID?
    public var authorID: UUID
    public var authorName: String
    public var body: String
    public var createdAt: Date
    public var editedAt: Date?

    public static let maxLength = 10_000

    public init(id: UUID = UUID(), spaceID: UUID, meetingID: UUID, topicID: UUID?, bulletID: String?, parentID: UUID?,
                authorID: UUID, authorName: String, body: String, createdAt: Date, editedAt: Date? = nil) {
        self.id = id
        self.spaceID = spaceID
        self.meetingID = meetingID
        self.topicID = topicID
        self.bulletID = bulletID
        self.parentID = parentID
        self.authorID = authorID
        self.authorName = authorName
        self.body = body
        self.createdAt = createdAt
        self.editedAt = editedAt
    }

    /// A comment body: not empty, at most 10,000 characters, no control characters but newlines.
    public static func validBody(_ body: String) throws -> String {
        try Validate.text(body, field: "body", max: maxLength, multiline: true)
    }

    /// `@handle` mentions in a body: letters, digits, dots, dashes and underscores, lowercased.
    public static func mentions(in body: String) -> Set<String> {
        var out = Set<String>()
        var rest = Substring(body)
        while let range = rest.range(of: #"(^|[^\p{L}\p{N}._@-])@[\p{L}\p{N}._-]{1,60}"#, options: .regularExpression) {
            let token = rest[range].drop(while: { $0 != "@" }).dropFirst()
            out.insert(token.trimmingCharacters(in: CharacterSet(charactersIn: "._-")).lowercased())
            rest = rest[range.upperBound...]
        }
        return out
    }

    /// Whether `@handle` names a person: their name without spaces, with dots, or their first name
    /// (the same reading as action item owners).
    public static func handle(_ handle: String, names person: String) -> Bool {
        let full = person.lowercased()
        return handle == full.replacingOccurrences(of: " ", with: "") || handle == full.replacingOccurrences(of: " ", with: ".")
            || handle == full.split(separator: " ").first.map(String.init) || handle == full
    }
}

/// The text a comment had before one of its edits.
public struct CommentEdit: Codable, Sendable, Equatable {
    public var commentID: UUID
    public var body: String
    public var editedAt: Date

    public init(commentID: UUID, body: String, editedAt: Date) {
        self.commentID = commentID
        self.body = body
        self.editedAt = editedAt
    }
}

/// Something that happened which watchers hear about. Written in the same transaction as the
/// change itself; a worker turns each into notifications for its audience.
public struct NotifyEvent: Codable, Sendable, Equatable, Identifiable {
    public enum Kind: String, Codable, Sendable {
        /// A new comment (`commentID`).
        case comment
        /// Notes edited after the meeting, gathered until the page was quiet (op log `fromSeq...toSeq`).
        case notesChanged
        /// The meeting ended: its notes are ready.
        case notesReady
        /// Topics proposed for an upcoming meeting since the last such notice (at most one a day).
        case agenda
        /// The meeting starts soon; the current agenda.
        case reminder
    }

    public var id: UUID
    public var kind: Kind
    public var spaceID: UUID
    public var meetingID: UUID
    public var topicID: UUID?
    public var commentID: UUID?
    public var actorID: UUID?
    public var fromSeq: Int?
    public var toSeq: Int?
    public var at: Date
    /// Set once the event's notifications are written.
    public var processedAt: Date?

    public init(id: UUID = UUID(), kind: Kind, spaceID: UUID, meetingID: UUID, topicID: UUID? = nil, commentID: UUID? = nil,
                actorID: UUID? = nil, fromSeq: Int? = nil, toSeq: Int? = nil, at: Date, processedAt: Date? = nil) {
        self.id = id
        self.kind = kind
        self.spaceID = spaceID
        self.meetingID = meetingID
        self.topicID = topicID
        self.commentID = commentID
        self.actorID = actorID
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.at = at
        self.processedAt = processedAt
    }
}

/// How a person hears about things on one channel.
public enum Cadence: String, Codable, Sendable, CaseIterable {
    case immediate, daily, off
}

/// Where notifications go besides the inbox, which always has them.
public enum Channel: String, Codable, Sendable, CaseIterable {
    case inbox, email
}

/// A person's choice for one channel (absent: inbox immediate, email immediate).
public struct Preference: Codable, Sendable, Equatable {
    public var userID: UUID
    public var channel: Channel
    public var cadence: Cadence

    public init(userID: UUID, channel: Channel, cadence: Cadence) {
        self.userID = userID
        self.channel = channel
        self.cadence = cadence
    }
}

/// One notification in a person's inbox.
public struct InboxItem: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var userID: UUID
    public var spaceID: UUID
    public var eventID: UUID
    public var title: String
    public var body: String
    /// Path of the exact place (`/s/arch/weekly/2022-10-05#bullet-…`).
    public var link: String
    public var createdAt: Date
    public var readAt: Date?

    public init(id: UUID, userID: UUID, spaceID: UUID, eventID: UUID, title: String, body: String, link: String,
                createdAt: Date, readAt: Date? = nil) {
        self.id = id
        self.userID = userID
        self.spaceID = spaceID
        self.eventID = eventID
        self.title = title
        self.body = body
        self.link = link
        self.createdAt = createdAt
        self.readAt = readAt
    }
}

/// A message to send outside Hourglass (an email or a webhook call), kept until delivered.
public struct Delivery: Codable, Sendable, Equatable, Identifiable {
    public enum Kind: String, Codable, Sendable { case email, webhook }
    public enum State: String, Codable, Sendable { case pending, sent, dead }

    public var id: UUID
    /// Idempotency key: one delivery per event (or digest), recipient and channel.
    public var key: String
    public var kind: Kind
    public var spaceID: UUID?
    public var userID: UUID?
    public var webhookID: UUID?
    /// An email address or a URL.
    public var destination: String
    public var subject: String
    public var text: String
    public var html: String
    /// Webhook body (JSON).
    public var payload: String
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var sentAt: Date?

    public init(id: UUID = UUID(), key: String, kind: Kind, spaceID: UUID?, userID: UUID?, webhookID: UUID?, destination: String,
                subject: String, text: String, html: String, payload: String, createdAt: Date) {
        self.id = id
        self.key = key
        self.kind = kind
        self.spaceID = spaceID
        self.userID = userID
        self.webhookID = webhookID
        self.destination = destination
        self.subject = subject
        self.text = text
        self.html = html
        self.payload = payload
        state = .pending
        attempts = 0
        nextAttemptAt = createdAt
        self.createdAt = createdAt
    }

    /// Attempts before a delivery is given up (dead-lettered) and shown to the space's owners.
    public static let maxAttempts = 8

    /// Seconds to wait after the `attempt`-th failure: 30 s doubling, at most six hours.
    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(30 * pow(2, Double(max(0, attempt - 1))), 6 * 3600)
    }
}

/// A space's webhook: Slack-compatible incoming-webhook JSON, or generic JSON signed with HMAC-SHA256.
public struct Webhook: Codable, Sendable, Equatable, Identifiable {
    public enum Format: String, Codable, Sendable, CaseIterable { case slack, generic }

    public var id: UUID
    public var spaceID: UUID
    public var url: String
    public var format: Format
    public var secret: String
    public var createdAt: Date

    public init(id: UUID = UUID(), spaceID: UUID, url: String, format: Format, secret: String, createdAt: Date) {
        self.id = id
        self.spaceID = spaceID
        self.url = url
        self.format = format
        self.secret = secret
        self.createdAt = createdAt
    }
}

/// Who hears about an event.
public enum Audience {
    /// Watchers of the thing and of everything it belongs to (muted watches excluded), plus the
    /// people mentioned; never the person who caused it; only people who may still read the space.
    public static func recipients(watches: [Watch], mentioned: Set<UUID>, actor: UUID?, mayRead: (UUID) -> Bool) -> Set<UUID> {
        var out = Set(watches.filter { !$0.muted }.map(\.userID)).union(mentioned)
        if let actor { out.remove(actor) }
        return out.filter(mayRead)
    }
}
