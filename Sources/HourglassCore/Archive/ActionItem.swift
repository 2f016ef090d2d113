import Foundation

/// A bullet marked as an action item: `[todo] @ann update the ADR due 2023-01-15 https://…`,
/// `ACTION: (Bo) file a ticket`, or `[done] …` once closed. The bullet's text is the single
/// source of truth, so an action item is edited, searched and versioned like any other note.
public struct ActionItem: Sendable, Equatable {
    public enum Status: String, Sendable {
        case open, done
    }

    public var status: Status
    /// The text after the marker.
    public var text: String
    /// The first `@name`, or a leading `(Name)` / `[Name]`.
    public var owner: String?
    /// `due 2023-01-15`, `due: 2023-01-15` or `by 2023-01-15`.
    public var due: LocalDate?
    /// The first http(s) link (a ticket, an ADR, a proposal).
    public var link: String?

    /// Markers that open an action item; `[done]` closes one. Matched case-insensitively.
    public static let openMarkers = ["[todo]", "action:", "[action]"]
    public static let doneMarkers = ["[done]"]

    /// The action item a bullet's text describes, or nil when it is not one.
    public init?(text raw: String) {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        guard let (marker, status) = (Self.openMarkers.map { ($0, Status.open) } + Self.doneMarkers.map { ($0, Status.done) })
            .first(where: { lower.hasPrefix($0.0) }) else { return nil }
        self.status = status
        text = trimmed.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
        owner = Self.owner(in: text)
        due = Self.due(in: text)
        link = text.range(of: #"https?://[^\s<>"']+"#, options: .regularExpression).map { String(text[$0]) }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ".,;:!?)")) }
    }

    static func owner(in text: String) -> String? {
        if let at = text.range(of: #"(^|\s)@[\p{L}\p{N}._-]{1,40}"#, options: .regularExpression) {
            let name = text[at].trimmingCharacters(in: .whitespaces).dropFirst()
            return String(name).trimmingCharacters(in: CharacterSet(charactersIn: "._-"))
        }
        guard let open = text.first, open == "(" || open == "[" else { return nil }
        let close: Character = open == "(" ? ")" : "]"
        guard let end = text.firstIndex(of: close) else { return nil }
        let name = text[text.index(after: text.startIndex)..<end].trimmingCharacters(in: .whitespaces)
        return (1...40).contains(name.count) && name.split(separator: " ").count <= 4 ? name : nil
    }

    static func due(in text: String) -> LocalDate? {
        guard let range = text.range(of: #"\b(due:?|by)\s+\d{4}-\d{2}-\d{2}"#, options: [.regularExpression, .caseInsensitive]) else { return nil }
        return LocalDate(String(text[range].suffix(10)))
    }

    /// Whether `name` (a person's display name) owns this item: the same name, or an `@handle`
    /// that is the name without spaces or its first word.
    public func isOwned(by name: String) -> Bool {
        guard let owner = owner?.lowercased(), !owner.isEmpty else { return false }
        return Comment.handle(owner, names: name)
    }

    /// The bullet text with the item toggled: a plain bullet becomes `[todo]`, an open item `[done]`,
    /// a done item plain again (the editor's Ctrl+Enter does the same in `Public/notes.js`).
    public static func toggled(_ text: String) -> String {
        let lower = text.lowercased()
        for marker in openMarkers where lower.hasPrefix(marker) {
            return "[done] " + text.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
        }
        for marker in doneMarkers where lower.hasPrefix(marker) {
            return text.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
        }
        return "[todo] " + text
    }
}

/// An action item found in a meeting's notes, with where it lives.
public struct ActionBullet: Sendable, Equatable {
    public var spaceID: UUID
    public var seriesID: UUID
    public var meetingID: UUID
    public var meetingDate: LocalDate
    public var bullet: Bullet

    public init(spaceID: UUID, seriesID: UUID, meetingID: UUID, meetingDate: LocalDate, bullet: Bullet) {
        self.spaceID = spaceID
        self.seriesID = seriesID
        self.meetingID = meetingID
        self.meetingDate = meetingDate
        self.bullet = bullet
    }

    public var item: ActionItem? { ActionItem(text: bullet.text) }
}
