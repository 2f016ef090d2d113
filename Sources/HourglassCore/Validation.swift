import Foundation

/// A rule a request broke, with a message fit to show the person who sent it.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Input rules shared by every entry point (forms, JSON API, WebSocket, CLI).
public enum Validate {
    /// Trims and checks a line of user text: not empty, not too long, no control characters.
    public static func text(_ value: String, field: String, max: Int, allowEmpty: Bool = false, multiline: Bool = false) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty && !allowEmpty {
            throw ValidationError(field, "must not be empty")
        }
        if trimmed.count > max {
            throw ValidationError(field, "is too long (\(trimmed.count) characters; at most \(max))")
        }
        let forbidden = trimmed.unicodeScalars.contains { scalar in
            guard scalar.properties.generalCategory == .control else { return false }
            return !(multiline && (scalar == "\n" || scalar == "\t" || scalar == "\r"))
        }
        if forbidden {
            throw ValidationError(field, "must not contain control characters")
        }
        return trimmed
    }

    /// A URL-safe identifier: lowercase letters, digits and single dashes, 2 to 40 characters.
    public static func slug(_ value: String, field: String = "slug") throws -> String {
        let slug = value.trimmingCharacters(in: .whitespaces).lowercased()
        let allowed = slug.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard (2...40).contains(slug.count), allowed, !slug.hasPrefix("-"), !slug.hasSuffix("-"), !slug.contains("--") else {
            throw ValidationError(field, "must be 2 to 40 lowercase letters, digits or single dashes, e.g. \"arch-hour\"")
        }
        return slug
    }

    /// Derives a slug from a display name ("Architecture Hour" → "architecture-hour").
    public static func slugify(_ name: String) -> String {
        var out = ""
        for scalar in name.lowercased().folding(options: .diacriticInsensitive, locale: nil).unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                out.unicodeScalars.append(scalar)
            } else if !out.isEmpty, !out.hasSuffix("-") {
                out.append("-")
            }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return String(out.prefix(40)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    /// A plausible email address, lowercased.
    public static func email(_ value: String) throws -> String {
        let email = try text(value, field: "email", max: 254).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !email.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("email", "is not an email address")
        }
        return email
    }

    /// Passwords: 8 to 200 characters.
    public static func password(_ value: String) throws -> String {
        guard value.count >= 8 else { throw ValidationError("password", "must be at least 8 characters") }
        guard value.utf8.count <= 72 * 3, value.count <= 200 else { throw ValidationError("password", "is too long") }
        return value
    }

    /// An intention tag such as "inform": lowercase letters, digits and dashes.
    public static func tag(_ value: String) throws -> String {
        let tag = value.trimmingCharacters(in: CharacterSet(charactersIn: " []")).lowercased()
        let allowed = tag.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard (1...24).contains(tag.count), allowed else {
            throw ValidationError("tags", "\"\(value.prefix(40))\" is not a valid tag (1 to 24 lowercase letters, digits or dashes)")
        }
        return tag
    }
}
