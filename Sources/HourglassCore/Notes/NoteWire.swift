import Foundation

/// A change as the server records and broadcasts it: the change as applied, its place in the
/// meeting's notes sequence, and who sent it (so a client recognizes its own changes as acks).
public struct NoteEntry: Codable, Sendable, Equatable {
    public var seq: Int
    /// The sending connection's client id and its own sequence number for the change.
    public var client: String
    public var clientSeq: Int
    public var userID: UUID?
    public var change: NoteChange
    public var at: Date

    public init(seq: Int, client: String, clientSeq: Int, userID: UUID?, change: NoteChange, at: Date) {
        self.seq = seq
        self.client = client
        self.clientSeq = clientSeq
        self.userID = userID
        self.change = change
        self.at = at
    }
}

extension NoteEntry {
    /// An entry as the live stream sends it: what a client needs to apply entries in order and
    /// to recognise its own. Who made a change and when stay in the op log (the history page
    /// shows them); the stream leaves them out because every byte of it goes to every connection.
    public struct Live: Encodable, Sendable {
        public var seq: Int
        public var client: String
        public var clientSeq: Int
        public var change: NoteChange
    }

    public var live: Live { Live(seq: seq, client: client, clientSeq: clientSeq, change: change) }
}

extension NoteChange: Codable {
    private enum Keys: String, CodingKey { case kind, bullet, parent, order, text, rev, op }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        func field<T: Decodable>(_ type: T.Type, _ key: Keys) throws -> T {
            do {
                return try c.decode(T.self, forKey: key)
            } catch let error as OperationError {
                throw NotesError(.invalid, error.message)
            } catch {
                throw NotesError(.invalid, "Missing or malformed field \"\(key.rawValue)\"")
            }
        }
        let kind = try field(String.self, .kind)
        let bullet = try field(String.self, .bullet)
        switch kind {
        case "create":
            self = .create(bullet: bullet, parent: try field(String.self, .parent), order: try field(String.self, .order),
                           text: (try? c.decodeIfPresent(String.self, forKey: .text)) ?? "")
        case "move":
            self = .move(bullet: bullet, parent: try field(String.self, .parent), order: try field(String.self, .order))
        case "delete":
            self = .delete(bullet: bullet)
        case "text":
            self = .text(bullet: bullet, rev: try field(Int.self, .rev), op: try field(TextOperation.self, .op))
        default:
            throw NotesError(.invalid, "Unknown change kind \"\(kind.prefix(20))\"; expected create, move, delete or text")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case let .create(bullet, parent, order, text):
            try c.encode("create", forKey: .kind)
            try c.encode(bullet, forKey: .bullet)
            try c.encode(parent, forKey: .parent)
            try c.encode(order, forKey: .order)
            try c.encode(text, forKey: .text)
        case let .move(bullet, parent, order):
            try c.encode("move", forKey: .kind)
            try c.encode(bullet, forKey: .bullet)
            try c.encode(parent, forKey: .parent)
            try c.encode(order, forKey: .order)
        case let .delete(bullet):
            try c.encode("delete", forKey: .kind)
            try c.encode(bullet, forKey: .bullet)
        case let .text(bullet, rev, op):
            try c.encode("text", forKey: .kind)
            try c.encode(bullet, forKey: .bullet)
            try c.encode(rev, forKey: .rev)
            try c.encode(op, forKey: .op)
        }
    }
}

extension NotesDocument {
    /// Applies a change another server (or an earlier session) already decided, as recorded:
    /// text operations are at the bullet's current revision, so no transform is needed.
    public mutating func replay(_ change: NoteChange) throws {
        _ = try apply(change) { _, _ in [] }
    }

    /// All bullets, including deleted ones, for persistence.
    public var allBullets: [Bullet] { Array(bullets.values) }
}
