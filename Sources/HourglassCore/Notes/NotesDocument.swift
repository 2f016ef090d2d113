import Foundation

/// One bullet of a meeting's notes: a node of the outline tree with its own text.
public struct Bullet: Codable, Sendable, Equatable, Identifiable {
    /// Client-chosen id (1 to 64 of `A-Za-z0-9_-`), unique in the meeting.
    public var id: String
    /// A section id (the meeting's or a topic's) or another bullet's id.
    public var parent: String
    /// Fractional-index key among its siblings (ties broken by id).
    public var order: String
    public var text: String
    /// Number of text operations applied so far; clients base their edits on it.
    public var rev: Int
    public var deleted: Bool

    public init(id: String, parent: String, order: String, text: String = "", rev: Int = 0, deleted: Bool = false) {
        self.id = id
        self.parent = parent
        self.order = order
        self.text = text
        self.rev = rev
        self.deleted = deleted
    }
}

/// A change to the notes, as a client sends it and as the server records and broadcasts it.
/// Structure changes (create, move, delete) are last-writer-wins in server order; text changes are
/// operational transforms based on the bullet's revision.
public enum NoteChange: Sendable, Equatable {
    case create(bullet: String, parent: String, order: String, text: String)
    case move(bullet: String, parent: String, order: String)
    case delete(bullet: String)
    /// `rev` is the bullet revision the operation was made against.
    case text(bullet: String, rev: Int, op: TextOperation)

    public var bulletID: String {
        switch self {
        case let .create(id, _, _, _), let .move(id, _, _), let .delete(id), let .text(id, _, _): id
        }
    }
}

/// Why a notes change was refused; `message` is shown to the person.
public struct NotesError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid, notFound, cycle, tooLarge, stale
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The outline of one meeting's notes: sections (the meeting's own and one per topic) holding a
/// tree of bullets. A value type; `apply` is pure and is the only way it changes.
public struct NotesDocument: Sendable, Equatable {
    /// Ids that may be a root bullet's parent.
    public var sections: Set<String>
    public private(set) var bullets: [String: Bullet]

    public static let meetingSection = "meeting"
    public static let maxTextLength = 10_000
    public static let maxBullets = 20_000

    public init(sections: Set<String>, bullets: [Bullet] = []) {
        self.sections = sections.union([Self.meetingSection])
        self.bullets = Dictionary(bullets.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
    }

    /// Live children of a section or bullet, in order.
    public func children(of parent: String) -> [Bullet] {
        bullets.values.filter { $0.parent == parent && !$0.deleted }
            .sorted { $0.order != $1.order ? $0.order < $1.order : $0.id < $1.id }
    }

    /// Order keys for `count` bullets that take `bullet`'s place among its siblings (after its
    /// key, before the next sibling's); nil when they do not fit (the bullets keep their own).
    /// The same as `keysInPlaceOf` in `Public/notes-doc.js`.
    func keys(inPlaceOf bullet: Bullet, count: Int) -> [String]? {
        let next = bullets.values.filter { $0.parent == bullet.parent && $0.id != bullet.id && $0.order > bullet.order }.map(\.order).min()
        var keys: [String] = []
        var previous = bullet.order
        for _ in 0..<count {
            guard let key = try? OrderKey.between(previous, next) else { return nil }
            keys.append(key)
            previous = key
        }
        return keys
    }

    /// Applies one change and returns it as applied (a text operation transformed against the
    /// concurrent operations listed by `history`, which returns the operations that took a bullet
    /// from revision `from` to its current revision, oldest first).
    public mutating func apply(_ change: NoteChange, history: (String, Int) throws -> [TextOperation]) throws -> NoteChange {
        switch change {
        case let .create(id, parent, order, text):
            guard Self.isValidID(id) else { throw NotesError(.invalid, "A bullet id must be 1 to 64 letters, digits, - or _") }
            guard bullets[id] == nil else { throw NotesError(.invalid, "A bullet with this id exists already") }
            guard bullets.count < Self.maxBullets else { throw NotesError(.tooLarge, "These notes already have \(Self.maxBullets) bullets") }
            try checkOrder(order)
            try checkText(text)
            let parent = try liveParent(parent, for: id)
            bullets[id] = Bullet(id: id, parent: parent, order: order, text: text)
            return .create(bullet: id, parent: parent, order: order, text: text)

        case let .move(id, parent, order):
            guard var bullet = bullets[id] else { throw NotesError(.notFound, "No such bullet") }
            try checkOrder(order)
            guard sections.contains(parent) || bullets[parent] != nil else { throw NotesError(.notFound, "No such parent") }
            if wouldCycle(moving: id, under: parent) { throw NotesError(.cycle, "A bullet cannot move inside itself") }
            bullet.parent = try liveParent(parent, for: id)
            bullet.order = order
            bullet.deleted = false
            bullets[id] = bullet
            return .move(bullet: id, parent: bullet.parent, order: order)

        case let .delete(id):
            guard let bullet = bullets[id] else { throw NotesError(.notFound, "No such bullet") }
            guard !bullet.deleted else { return .delete(bullet: id) }
            // Children are kept: they move up to the deleted bullet's parent, into its place.
            let children = children(of: id)
            let keys = keys(inPlaceOf: bullet, count: children.count)
            for (index, child) in children.enumerated() {
                bullets[child.id]?.parent = bullet.parent
                if let keys { bullets[child.id]?.order = keys[index] }
            }
            bullets[id]?.deleted = true
            return .delete(bullet: id)

        case let .text(id, rev, op):
            guard var bullet = bullets[id] else { throw NotesError(.notFound, "No such bullet") }
            let base = bullet.rev
            guard rev >= 0, rev <= bullet.rev else {
                throw NotesError(.stale, "Revision \(rev) of this bullet does not exist yet (it is at \(bullet.rev))")
            }
            var transformed = op
            for concurrent in try history(id, rev) {
                do {
                    transformed = try TextOperation.transform(transformed, concurrent).0
                } catch let error as OperationError {
                    throw NotesError(.invalid, error.message)
                }
            }
            let units: [UInt16]
            do {
                units = try transformed.apply(units: Array(bullet.text.utf16))
            } catch let error as OperationError {
                throw NotesError(.invalid, error.message)
            }
            guard units.count <= Self.maxTextLength else {
                throw NotesError(.tooLarge, "A bullet holds at most \(Self.maxTextLength) characters; split the text into several bullets")
            }
            bullet.text = String(decoding: units, as: UTF16.self)
            bullet.rev += 1
            if bullet.deleted {
                // Typing brings a deleted bullet back: nothing anyone types is lost.
                bullet.deleted = false
                bullet.parent = (try? liveParent(bullet.parent, for: id)) ?? Self.meetingSection
            }
            bullets[id] = bullet
            return .text(bullet: id, rev: base, op: transformed)
        }
    }

    /// The parent itself when it is a section or a live bullet; for a deleted bullet, its nearest
    /// live ancestor (a section at worst).
    private func liveParent(_ parent: String, for id: String) throws -> String {
        var current = parent
        var steps = 0
        while !sections.contains(current) {
            guard let bullet = bullets[current], steps < Self.maxBullets else { throw NotesError(.notFound, "No such parent") }
            if !bullet.deleted { return current }
            current = bullet.parent
            steps += 1
        }
        return current
    }

    private func wouldCycle(moving id: String, under parent: String) -> Bool {
        var current: String? = parent
        var steps = 0
        while let node = current, !sections.contains(node), steps <= Self.maxBullets {
            if node == id { return true }
            current = bullets[node]?.parent
            steps += 1
        }
        return false
    }

    private func checkOrder(_ order: String) throws {
        guard OrderKey.isValid(order) else { throw NotesError(.invalid, "The order key is not valid") }
    }

    private func checkText(_ text: String) throws {
        guard text.utf16.count <= Self.maxTextLength else {
            throw NotesError(.tooLarge, "A bullet holds at most \(Self.maxTextLength) characters; split the text into several bullets")
        }
    }

    /// Ids of bullets and clients: 1 to 64 of `A-Za-z0-9_-`.
    public static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { b in
            (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) || b == 45 || b == 95
        }
    }
}
