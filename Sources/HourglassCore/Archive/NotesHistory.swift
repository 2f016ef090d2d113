import Foundation

/// The revision history of a meeting's notes, read from its op log: who changed which bullet,
/// when, and what the text was before and after.
public enum NotesHistory {
    /// One person's run of changes to one bullet (changes less than `gap` apart are one revision).
    public struct Revision: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case created, edited, moved, deleted
        }

        public var kind: Kind
        public var bulletID: String
        public var userID: UUID?
        public var firstSeq: Int
        public var lastSeq: Int
        public var from: Date
        public var to: Date
        /// Text before the revision (nil for a new bullet, or an edit of text the log does not hold).
        public var before: String?
        public var after: String
    }

    /// Revisions of the entries, newest first. `gap` joins a person's keystrokes into one revision;
    /// entries before `firstSeq` only give the texts the later revisions start from.
    public static func revisions(_ entries: [NoteEntry], gap: TimeInterval = 300, from firstSeq: Int = 0) -> [Revision] {
        var texts: [String: String] = [:]
        var out: [Revision] = []
        for entry in entries {
            let id = entry.change.bulletID
            let before = texts[id]
            var kind: Revision.Kind
            switch entry.change {
            case let .create(_, _, _, text):
                kind = .created
                texts[id] = text
            case .move:
                kind = .moved
            case .delete:
                kind = .deleted
            case let .text(_, _, op):
                kind = .edited
                if let known = before, let applied = try? op.apply(known) { texts[id] = applied } else { texts[id] = nil }
            }
            let after = texts[id] ?? ""
            guard entry.seq >= firstSeq else { continue }
            if var last = out.last, last.bulletID == id, last.userID == entry.userID, entry.at.timeIntervalSince(last.to) < gap,
               last.kind == kind || (last.kind == .created && kind == .edited) {
                last.lastSeq = entry.seq
                last.to = entry.at
                last.after = after
                out[out.count - 1] = last
            } else {
                out.append(Revision(kind: kind, bulletID: id, userID: entry.userID, firstSeq: entry.seq, lastSeq: entry.seq,
                                    from: entry.at, to: entry.at, before: kind == .created ? nil : before, after: after))
            }
        }
        return out.reversed()
    }
}

/// A word-level difference between two texts, for showing what a revision changed.
public enum WordDiff {
    public enum Piece: Sendable, Equatable {
        case same(String)
        case added(String)
        case removed(String)
    }

    /// Pieces that turn `old` into `new`, by longest common subsequence of words (and the spaces
    /// between them). Texts longer than `limit` tokens are compared as one replaced block.
    public static func diff(_ old: String, _ new: String, limit: Int = 2000) -> [Piece] {
        let a = tokens(old), b = tokens(new)
        guard a.count <= limit, b.count <= limit else {
            return (old.isEmpty ? [] : [.removed(old)]) + (new.isEmpty ? [] : [.added(new)])
        }
        // lcs[i][j]: length of the LCS of a[i...] and b[j...]
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var pieces: [Piece] = []
        func add(_ piece: Piece) { merge(piece, into: &pieces) }
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                add(.same(a[i])); i += 1; j += 1
            } else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                add(.removed(a[i])); i += 1
            } else {
                add(.added(b[j])); j += 1
            }
        }
        return readable(pieces)
    }

    /// Makes a change read as one replacement: spaces kept between two changes join them, each run of
    /// changes becomes one removal then one addition, and their shared trailing spaces stay unchanged.
    static func readable(_ pieces: [Piece]) -> [Piece] {
        var out: [Piece] = []
        var removed = "", added = ""
        func flush() {
            var common = ""
            while let r = removed.last, let a = added.last, r == a, r.isWhitespace {
                common = String(r) + common
                removed.removeLast()
                added.removeLast()
            }
            if !removed.isEmpty { merge(.removed(removed), into: &out) }
            if !added.isEmpty { merge(.added(added), into: &out) }
            if !common.isEmpty { merge(.same(common), into: &out) }
            removed = ""
            added = ""
        }
        for (index, piece) in pieces.enumerated() {
            switch piece {
            case let .removed(text): removed += text
            case let .added(text): added += text
            case let .same(text):
                let changing = !(removed.isEmpty && added.isEmpty)
                let nextChanges = index + 1 < pieces.count && { if case .same = pieces[index + 1] { false } else { true } }()
                if changing, nextChanges, text.allSatisfy(\.isWhitespace) {
                    removed += text
                    added += text
                } else {
                    flush()
                    merge(piece, into: &out)
                }
            }
        }
        flush()
        return out
    }

    /// Appends a piece, joining it to the last one when they are of the same kind.
    static func merge(_ piece: Piece, into pieces: inout [Piece]) {
        switch (pieces.last, piece) {
        case let (.same(x)?, .same(y)): pieces[pieces.count - 1] = .same(x + y)
        case let (.added(x)?, .added(y)): pieces[pieces.count - 1] = .added(x + y)
        case let (.removed(x)?, .removed(y)): pieces[pieces.count - 1] = .removed(x + y)
        default: pieces.append(piece)
        }
    }

    /// Words and the runs of spaces between them.
    static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var inSpace = false
        for character in text {
            let space = character.isWhitespace
            if !current.isEmpty, space != inSpace {
                out.append(current)
                current = ""
            }
            inSpace = space
            current.append(character)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The diff as unified-style text: `[-removed-]{+added+}`, for email and plain-text readers.
    public static func plain(_ pieces: [Piece]) -> String {
        pieces.map { piece in
            switch piece {
            case let .same(text): text
            case let .added(text): "{+\(text)+}"
            case let .removed(text): "[-\(text)-]"
            }
        }.joined()
    }
}
