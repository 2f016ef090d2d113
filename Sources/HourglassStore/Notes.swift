import Foundation
import HourglassCore

/// A meeting's notes as stored.
public struct NotesState: Sendable, Equatable {
    public var bullets: [Bullet]
    public var seq: Int
    public var clientSeqs: [String: Int]

    public init(bullets: [Bullet], seq: Int, clientSeqs: [String: Int]) {
        self.bullets = bullets
        self.seq = seq
        self.clientSeqs = clientSeqs
    }
}

/// What one notes transaction appends: op log entries (numbered from the stored sequence number
/// on) and the bullets they changed.
public struct NotesCommit: Sendable {
    public var entries: [NoteEntry]
    public var bullets: [Bullet]

    public init(entries: [NoteEntry], bullets: [Bullet]) {
        self.entries = entries
        self.bullets = bullets
    }
}

/// How a bullet is stored (`order` is a keyword in SQL, hence `orderKey`).
public struct BulletRow: Codable, Sendable, Equatable {
    public var meetingID: UUID
    public var id: String
    public var parent: String
    public var orderKey: String
    public var text: String
    public var rev: Int
    public var deleted: Bool

    public init(meetingID: UUID, _ bullet: Bullet) {
        self.meetingID = meetingID
        id = bullet.id
        parent = bullet.parent
        orderKey = bullet.order
        text = bullet.text
        rev = bullet.rev
        deleted = bullet.deleted
    }

    public var bullet: Bullet { Bullet(id: id, parent: parent, order: orderKey, text: text, rev: rev, deleted: deleted) }
}

extension [NoteEntry] {
    /// The text operations among these entries for one bullet from a revision on, in order.
    func textOperations(bullet: String, fromRev: Int) -> [TextOperation] {
        compactMap { entry in
            if case let .text(id, rev, op) = entry.change, id == bullet, rev >= fromRev { return op }
            return nil
        }
    }
}

/// How an op log entry is stored: the change as JSON, plus columns to query by.
public struct NoteOpRow: Codable, Sendable, Equatable {
    public var meetingID: UUID
    public var seq: Int
    public var client: String
    public var clientSeq: Int
    public var userID: UUID?
    public var bullet: String
    public var kind: String
    public var change: String
    public var at: Date

    public init(meetingID: UUID, _ entry: NoteEntry) throws {
        self.meetingID = meetingID
        seq = entry.seq
        client = entry.client
        clientSeq = entry.clientSeq
        userID = entry.userID
        bullet = entry.change.bulletID
        kind = switch entry.change {
        case .create: "create"
        case .move: "move"
        case .delete: "delete"
        case .text: "text"
        }
        change = String(decoding: try JSONEncoder().encode(entry.change), as: UTF8.self)
        at = entry.at
    }

    public func entry() throws -> NoteEntry {
        NoteEntry(seq: seq, client: client, clientSeq: clientSeq, userID: userID,
                  change: try JSONDecoder().decode(NoteChange.self, from: Data(change.utf8)), at: at)
    }
}
