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
struct BulletRow: Codable, Sendable {
    var meetingID: UUID
    var id: String
    var parent: String
    var orderKey: String
    var text: String
    var rev: Int
    var deleted: Bool

    init(meetingID: UUID, _ bullet: Bullet) {
        self.meetingID = meetingID
        id = bullet.id
        parent = bullet.parent
        orderKey = bullet.order
        text = bullet.text
        rev = bullet.rev
        deleted = bullet.deleted
    }

    var bullet: Bullet { Bullet(id: id, parent: parent, order: orderKey, text: text, rev: rev, deleted: deleted) }
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
struct NoteOpRow: Codable, Sendable {
    var meetingID: UUID
    var seq: Int
    var client: String
    var clientSeq: Int
    var userID: UUID?
    var bullet: String
    var kind: String
    var change: String
    var at: Date

    init(meetingID: UUID, _ entry: NoteEntry) throws {
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

    func entry() throws -> NoteEntry {
        NoteEntry(seq: seq, client: client, clientSeq: clientSeq, userID: userID,
                  change: try JSONDecoder().decode(NoteChange.self, from: Data(change.utf8)), at: at)
    }
}
