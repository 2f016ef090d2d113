import Foundation

/// A notes page written outside Hourglass, read into meetings, topics and bullets.
public struct ImportedArchive: Sendable, Equatable {
    /// Text before the first dated heading (kept as the series description).
    public var preface: String
    /// Meetings in the order of the file (newest or oldest first, as written).
    public var meetings: [ImportedMeeting]

    public init(preface: String = "", meetings: [ImportedMeeting] = []) {
        self.preface = preface
        self.meetings = meetings
    }

    public var topicCount: Int { meetings.reduce(0) { $0 + $1.topics.count } }
    public var bulletCount: Int { meetings.reduce(0) { $0 + $1.notes.totalCount + $1.topics.reduce(0) { $0 + $1.bullets.totalCount } } }
    public var voteCount: Int { meetings.reduce(0) { $0 + $1.topics.reduce(0) { $0 + $1.votes } } }
}

/// One dated meeting of an imported page.
public struct ImportedMeeting: Sendable, Equatable {
    public var date: LocalDate
    /// Line of the dated heading (1-based).
    public var line: Int
    /// Set when the only note says the meeting did not happen ("Skipped due to low attendance").
    public var skipReason: String?
    /// Bullets before the first topic: attendance, announcements.
    public var notes: [ImportedBullet]
    public var topics: [ImportedTopic]

    public init(date: LocalDate, line: Int, skipReason: String? = nil, notes: [ImportedBullet] = [], topics: [ImportedTopic] = []) {
        self.date = date
        self.line = line
        self.skipReason = skipReason
        self.notes = notes
        self.topics = topics
    }
}

/// A topic line: "*** [quest] (Jeremy) Should we cancel future sessions?".
public struct ImportedTopic: Sendable, Equatable {
    public var line: Int
    /// Intention tag as written, lowercased ("" when the line has none).
    public var tag: String
    public var title: String
    /// Markdown `>` lines right under the topic's heading.
    public var description: String
    public var proposer: String
    /// Leading `*` or `+` marks.
    public var votes: Int
    public var bullets: [ImportedBullet]

    public init(line: Int, tag: String, title: String, description: String = "", proposer: String, votes: Int = 0, bullets: [ImportedBullet] = []) {
        self.line = line
        self.tag = tag
        self.title = title
        self.description = description
        self.proposer = proposer
        self.votes = votes
        self.bullets = bullets
    }
}

/// A notes line and the lines nested under it.
public struct ImportedBullet: Sendable, Equatable {
    public var line: Int
    public var text: String
    public var children: [ImportedBullet]

    public init(line: Int, text: String, children: [ImportedBullet] = []) {
        self.line = line
        self.text = text
        self.children = children
    }
}

extension [ImportedBullet] {
    /// Bullets in this forest, nested ones included.
    public var totalCount: Int { reduce(0) { $0 + 1 + $1.children.totalCount } }
}

/// Why a file could not be imported, naming the line.
public struct ArchiveImportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// Reads notes pages in the two shapes teams keep them in:
///
/// - **Plain text**, as copied out of a wiki: dated headings (`2022-12-14`), topic lines marked with
///   an intention tag and/or a person (`[quest] (Jeremy) …`, `[Ned] …`), leading `*` or `+` marks as
///   votes, the lines under a topic as its bullets, lines before a date's first topic as meeting notes,
///   and text before the first date as the preface.
/// - **Markdown**: the same, with headings (`## 2022-12-14`, `### [inform] (Ned) Title`) and nested
///   `-`/`*` list items whose indentation is kept as nesting.
///
/// One rule reads both: every line becomes an item with a depth (0 for plain text); a depth-0 item
/// that reads as a topic line starts a topic, any other item is a bullet under the item one level up.
/// Which depth-0 lines are topics follows the meeting's own style: where the meeting's first marked
/// line carries an intention tag, topics are the tagged lines (plus lines marked with both a label
/// and a person, `[2U internal] [Ned] …`) and `[Person]` lines are replies; otherwise every line that
/// starts with `[Person]` is a topic.
public enum ArchiveText {
    public static let maxBytes = 50_000_000
    public static let maxLineLength = NotesDocument.maxTextLength

    /// Words read as intention tags besides the series' own.
    public static let tagAliases: Set<String> = ["discuss", "discussion", "question"]
    /// Markers that make a bullet an action item or a note kind, never a topic.
    static let bulletMarkers: Set<String> = ["todo", "done", "idea", "action", "note", "x"]

    public static func parse(_ data: Data, tags: [String] = SeriesSettings.defaultTags) throws -> ImportedArchive {
        guard data.count <= maxBytes else {
            throw ArchiveImportError(line: 0, "The file is \(data.count / 1_000_000) MB; at most \(maxBytes / 1_000_000) MB can be imported at once")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let line = invalidUTF8Line(data)
            throw ArchiveImportError(line: line, "is not UTF-8 text")
        }
        return try parse(text, tags: tags)
    }

    public static func parse(_ text: String, tags: [String] = SeriesSettings.defaultTags) throws -> ImportedArchive {
        let known = Set(tags).union(tagAliases)
        var body = text
        if body.hasPrefix("\u{FEFF}") { body.removeFirst() }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let markdown = looksLikeMarkdown(lines)

        var preface: [String] = []
        var blocks: [(date: LocalDate, line: Int, items: [Item])] = []
        var seen: [LocalDate: Int] = [:]
        var fenced = false
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            guard raw.count <= maxLineLength else {
                throw ArchiveImportError(line: number, "is \(raw.count) characters long; a line can have at most \(maxLineLength)")
            }
            if raw.unicodeScalars.contains(where: { $0.value == 0 }) {
                throw ArchiveImportError(line: number, "contains a NUL byte; this does not look like a text file")
            }
            if markdown, raw.trimmingCharacters(in: .whitespaces).hasPrefix("```") { fenced.toggle(); continue }
            guard let item = Item(raw, line: number, markdown: markdown && !fenced) else { continue }
            if item.mayBeDate, let date = try datedHeading(item.text, line: number) {
                if let earlier = seen[date] {
                    throw ArchiveImportError(line: number, "\(date) appears twice (also on line \(earlier)); merge the two meetings first")
                }
                seen[date] = number
                blocks.append((date, number, []))
                let rest = item.text.dropFirst(10).trimmingCharacters(in: CharacterSet(charactersIn: " -–—:"))
                if !rest.isEmpty { blocks[blocks.count - 1].items.append(Item(text: rest, depth: 0, line: number)) }
            } else if blocks.isEmpty {
                if !(item.headingLevel == 1 && preface.isEmpty) { preface.append(item.text) }
            } else {
                blocks[blocks.count - 1].items.append(item)
            }
        }
        guard !blocks.isEmpty else {
            throw ArchiveImportError(line: 0, "No dated heading found; each meeting starts with a line such as 2022-12-14 (or ## 2022-12-14 in Markdown)")
        }
        return ImportedArchive(preface: preface.joined(separator: "\n"),
                               meetings: blocks.map { meeting(date: $0.date, line: $0.line, items: $0.items, known: known) })
    }

    /// One line of input with its nesting depth.
    struct Item {
        var text: String
        var depth: Int
        var line: Int
        /// Plain-text lines, Markdown headings and paragraphs that start with a date.
        var mayBeDate = false
        var headingLevel = 0
        var listItem = false
        /// A Markdown `>` line.
        var quote = false

        init(text: String, depth: Int, line: Int) {
            self.text = text
            self.depth = depth
            self.line = line
        }

        init?(_ raw: String, line: Int, markdown: Bool) {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return nil }
            self.line = line
            depth = 0
            text = trimmed
            guard markdown else {
                mayBeDate = true
                return
            }
            if trimmed.hasPrefix("#") {
                let level = trimmed.prefix(while: { $0 == "#" }).count
                let rest = trimmed.dropFirst(level)
                if level <= 6, rest.isEmpty || rest.hasPrefix(" ") {
                    mayBeDate = true
                    headingLevel = level
                    text = rest.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty { return nil }
                    return
                }
            }
            if trimmed.hasPrefix(">") {
                quote = true
                text = trimmed.dropFirst().trimmingCharacters(in: .whitespaces)
                return
            }
            let indent = raw.prefix(while: { $0 == " " || $0 == "\t" }).reduce(0) { $0 + ($1 == "\t" ? 4 : 1) }
            for marker in ["- ", "* ", "+ "] where trimmed.hasPrefix(marker) {
                listItem = true
                text = String(trimmed.dropFirst(2)).trimmingCharacters(in: .whitespaces)
                depth = indent / 2
                if text.isEmpty { return nil }
                return
            }
            if let dot = trimmed.firstIndex(of: "."), trimmed[..<dot].allSatisfy(\.isNumber), !trimmed[..<dot].isEmpty,
               trimmed[trimmed.index(after: dot)...].hasPrefix(" ") {
                listItem = true
                text = trimmed[trimmed.index(after: dot)...].trimmingCharacters(in: .whitespaces)
                depth = indent / 2
                return
            }
            // A paragraph line: a dated line counts as a heading, anything else is depth-0 text.
            mayBeDate = LocalDate(String(trimmed.prefix(10))) != nil
        }
    }

    static func looksLikeMarkdown(_ lines: [String]) -> Bool {
        lines.contains { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("#") else { return false }
            let rest = t.drop(while: { $0 == "#" })
            return rest.hasPrefix(" ") && LocalDate(String(rest.dropFirst().prefix(10))) != nil
        }
    }

    /// A heading that starts with a date; a date-shaped word that is not a real day is an error.
    static func datedHeading(_ text: String, line: Int) throws -> LocalDate? {
        let head = String(text.prefix(10))
        guard head.count == 10, head.enumerated().allSatisfy({ index, c in [4, 7].contains(index) ? c == "-" : c.isASCII && c.isNumber }) else { return nil }
        let after = text.dropFirst(10)
        guard after.isEmpty || after.first == " " || after.first == ":" || after.first == "," else { return nil }
        guard let date = LocalDate(head) else {
            throw ArchiveImportError(line: line, "\(head) is not a calendar date")
        }
        return after.count <= 80 ? date : nil
    }

    static func meeting(date: LocalDate, line: Int, items: [Item], known: Set<String>) -> ImportedMeeting {
        var meeting = ImportedMeeting(date: date, line: line)
        let firstMarked = items.lazy.filter { $0.depth == 0 }.compactMap { TopicLine($0.text, known: known) }.first { !$0.markers.isEmpty }
        let tagStyle = firstMarked?.tag != nil
        let explicitHeadings = items.contains { $0.headingLevel > 0 }

        // Stack of open bullets by depth, within the current container (meeting notes or a topic).
        var stack: [(depth: Int, path: [Int])] = []
        func insert(_ bullet: ImportedBullet, depth: Int) {
            while let last = stack.last, last.depth >= depth { stack.removeLast() }
            let parentPath = stack.last?.path ?? []
            var container = meeting.topics.isEmpty ? meeting.notes : meeting.topics[meeting.topics.count - 1].bullets
            let path = append(bullet, at: parentPath, in: &container)
            if meeting.topics.isEmpty { meeting.notes = container } else { meeting.topics[meeting.topics.count - 1].bullets = container }
            stack.append((depth, path))
        }
        for item in items {
            if item.quote, let last = meeting.topics.indices.last, meeting.topics[last].bullets.isEmpty {
                let topic = meeting.topics[last]
                meeting.topics[last].description = topic.description.isEmpty ? item.text : topic.description + "\n" + item.text
                continue
            }
            let candidate = TopicLine(item.text, known: known)
            let isTopic: Bool
            if item.headingLevel > 0 {
                isTopic = true
            } else if explicitHeadings || item.depth > 0 {
                isTopic = false
            } else if let candidate {
                isTopic = candidate.isTopic(tagStyle: tagStyle)
            } else {
                isTopic = false
            }
            if isTopic {
                let line = candidate ?? TopicLine(plain: item.text)
                meeting.topics.append(ImportedTopic(line: item.line, tag: line.tag ?? "", title: line.title,
                                                    proposer: line.proposer, votes: line.votes))
                stack = []
            } else {
                insert(ImportedBullet(line: item.line, text: item.text), depth: item.depth)
            }
        }
        if meeting.topics.isEmpty, meeting.notes.count == 1, meeting.notes[0].children.isEmpty {
            let note = meeting.notes[0].text
            let lower = note.lowercased()
            if ["skipped", "cancelled", "canceled", "no meeting"].contains(where: lower.hasPrefix) {
                meeting.skipReason = note
                meeting.notes = []
            }
        }
        return meeting
    }

    /// Appends `bullet` under the bullet at `path` (the root when empty) and returns its own path.
    static func append(_ bullet: ImportedBullet, at path: [Int], in forest: inout [ImportedBullet]) -> [Int] {
        guard let first = path.first else {
            forest.append(bullet)
            return [forest.count - 1]
        }
        return [first] + append(bullet, at: Array(path.dropFirst()), in: &forest[first].children)
    }

    static func invalidUTF8Line(_ data: Data) -> Int {
        var line = 1
        var index = data.startIndex
        while index < data.endIndex {
            let byte = data[index]
            let length = byte < 0x80 ? 1 : byte >> 5 == 0b110 ? 2 : byte >> 4 == 0b1110 ? 3 : byte >> 3 == 0b11110 ? 4 : 0
            guard length > 0, index + length <= data.endIndex,
                  String(data: data[index..<(index + length)], encoding: .utf8) != nil else { return line }
            if byte == 0x0A { line += 1 }
            index += length
        }
        return line
    }
}

/// The leading marks of a line: votes, then `[…]`/`(…)` markers naming tags and people, then the title.
struct TopicLine {
    enum Marker: Equatable {
        case tag(String)
        case person(String, square: Bool)
        case bulletKind
    }

    var votes = 0
    var markers: [Marker] = []
    var title: String

    var tag: String? {
        for case let .tag(tag) in markers { return tag }
        return nil
    }

    var people: [String] { markers.compactMap { if case let .person(name, _) = $0 { name } else { nil } } }
    var proposer: String { people.last ?? "" }

    init(plain text: String) { title = text }

    init?(_ text: String, known: Set<String>) {
        var rest = Substring(text)
        while let first = rest.first, first == "*" || first == "+" {
            votes += 1
            rest = rest.dropFirst().drop(while: { $0 == " " })
        }
        while let open = rest.first, open == "[" || open == "(" {
            let close: Character = open == "[" ? "]" : ")"
            guard let end = rest.firstIndex(of: close) else { break }
            let inside = rest[rest.index(after: rest.startIndex)..<end].trimmingCharacters(in: .whitespaces)
            let words = inside.split(separator: " ")
            guard (1...40).contains(inside.count), words.count <= 4, !inside.contains("://") else { break }
            let parts = inside.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var names: [String] = []
            for part in parts {
                let lower = part.lowercased()
                if known.contains(lower) {
                    markers.append(.tag(lower))
                } else if ArchiveText.bulletMarkers.contains(lower) {
                    markers.append(.bulletKind)
                } else {
                    names.append(part)
                }
            }
            if !names.isEmpty { markers.append(.person(names.joined(separator: "/"), square: open == "[")) }
            rest = rest[rest.index(after: end)...].drop(while: { $0 == " " })
        }
        // Labels before the proposer ("[2U internal] [Ned]") stay in the title.
        let named = markers.compactMap { if case let .person(name, _) = $0 { name } else { nil } }
        let labels = named.dropLast().map { "[\($0)] " }.joined()
        var title = rest.drop(while: { " -–—:".contains($0) }).trimmingCharacters(in: .whitespaces)
        if title.hasPrefix("\\") { title.removeFirst() }
        guard !title.isEmpty else { return nil }
        self.title = labels + title
    }

    /// Whether this depth-0 line starts a topic in a meeting written in the given style.
    func isTopic(tagStyle: Bool) -> Bool {
        if markers.contains(.bulletKind) { return false }
        if tagStyle { return tag != nil || people.count >= 2 }
        if case .person(_, square: true)? = markers.first { return true }
        return tag != nil
    }
}
