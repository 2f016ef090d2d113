import Foundation

/// A search as people type it: words, "quoted phrases" and `prefix*` terms, all required.
/// Anything else (operators, brackets, stray quotes, `NEAR`, punctuation) is read as plain text,
/// so no input can make the query invalid. Rendered for SQLite FTS5 and PostgreSQL `tsquery`
/// from the same terms, so both backends find the same things.
public struct SearchTerms: Sendable, Equatable {
    public enum Term: Sendable, Equatable {
        case word(String, prefix: Bool)
        case phrase([String])
    }

    public var terms: [Term]
    public static let maxTerms = 16
    public static let maxInput = 1000

    public init(_ input: String) {
        var terms: [Term] = []
        let text = String(input.prefix(Self.maxInput))
        var inQuote = false
        var phrase: [String] = []
        var word = ""
        func endWord(prefix: Bool) {
            guard !word.isEmpty else { return }
            let token = String(word.lowercased().prefix(64))
            if inQuote { phrase.append(token) } else { terms.append(.word(token, prefix: prefix)) }
            word = ""
        }
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                word.unicodeScalars.append(scalar)
            } else if scalar == "*" {
                endWord(prefix: true)
            } else if scalar == "\"" {
                endWord(prefix: false)
                if inQuote, !phrase.isEmpty { terms.append(phrase.count == 1 ? .word(phrase[0], prefix: false) : .phrase(phrase)) }
                phrase = []
                inQuote.toggle()
            } else {
                endWord(prefix: false)
            }
        }
        endWord(prefix: false)
        if inQuote, !phrase.isEmpty { terms.append(phrase.count == 1 ? .word(phrase[0], prefix: false) : .phrase(phrase)) }
        // A repeated term finds nothing more and costs another pass: keep each once.
        var unique: [Term] = []
        for term in terms where !unique.contains(term) { unique.append(term) }
        self.terms = Array(unique.prefix(Self.maxTerms))
    }

    /// A short passage of `text` around the first match, matches wrapped in `SearchHit.markStart`
    /// and `markEnd`, cut at word boundaries with "…": the same snippet on every backend.
    public func snippet(of text: String, words: Int = 18) -> String {
        let matchers: [(String, Bool)] = terms.flatMap { term -> [(String, Bool)] in
            switch term {
            case let .word(word, prefix): [(Self.folded(word), prefix)]
            case let .phrase(words): words.map { (Self.folded($0), false) }
            }
        }
        // Tokens: runs of letters/digits and the text between them, kept to rebuild the passage exactly.
        var tokens: [(text: String, isWord: Bool)] = []
        for character in text.replacingOccurrences(of: "\n", with: " ") {
            let isWord = character.isLetter || character.isNumber
            if let last = tokens.last, last.isWord == isWord {
                tokens[tokens.count - 1].text.append(character)
            } else {
                tokens.append((String(character), isWord))
            }
        }
        func matches(_ token: String) -> Bool {
            let word = Self.folded(token)
            return matchers.contains { prefix in prefix.1 ? word.hasPrefix(prefix.0) : word == prefix.0 }
        }
        let wordIndexes = tokens.indices.filter { tokens[$0].isWord }
        let first = wordIndexes.firstIndex { matches(tokens[$0].text) } ?? 0
        let startWord = max(0, first - words / 3)
        let endWord = min(wordIndexes.count, startWord + words)
        guard startWord < endWord else { return String(text.prefix(200)) }
        let from = startWord == 0 ? 0 : wordIndexes[startWord]
        let to = endWord == wordIndexes.count ? tokens.count : wordIndexes[endWord]
        var out = startWord == 0 ? "" : "…"
        for token in tokens[from..<to] {
            out += token.isWord && matches(token.text) ? SearchHit.markStart + token.text + SearchHit.markEnd : token.text
        }
        if to < tokens.count { out = out.trimmingCharacters(in: .whitespaces) + "…" }
        return out
    }

    /// Lowercased without diacritics, as both full-text indexes compare words.
    static func folded(_ word: String) -> String {
        word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }

    public var isEmpty: Bool { terms.isEmpty }

    /// An FTS5 MATCH expression: every token quoted, so none is read as syntax.
    public var fts5: String {
        terms.map { term in
            switch term {
            case let .word(word, prefix): "\"\(word)\"" + (prefix ? "*" : "")
            case let .phrase(words): "\"\(words.joined(separator: " "))\""
            }
        }.joined(separator: " ")
    }

    /// A `to_tsquery('simple', …)` expression.
    public var tsquery: String {
        terms.map { term in
            switch term {
            case let .word(word, prefix): word + (prefix ? ":*" : "")
            case let .phrase(words): "(" + words.joined(separator: " <-> ") + ")"
            }
        }.joined(separator: " & ")
    }
}

/// What a search may look at and how to narrow it.
public struct SearchFilter: Sendable, Equatable {
    /// Spaces the caller may read; nothing outside them is ever returned.
    public var spaceIDs: [UUID]
    public var seriesID: UUID?
    public var tag: String?
    public var proposer: String?
    public var from: LocalDate?
    public var to: LocalDate?
    public var limit: Int

    public init(spaceIDs: [UUID], seriesID: UUID? = nil, tag: String? = nil, proposer: String? = nil,
                from: LocalDate? = nil, to: LocalDate? = nil, limit: Int = 20) {
        self.spaceIDs = spaceIDs
        self.seriesID = seriesID
        self.tag = tag
        self.proposer = proposer
        self.from = from
        self.to = to
        self.limit = max(1, min(limit, 100))
    }
}

/// One search result: a topic or a notes bullet, with a snippet whose matches are wrapped in
/// `SearchHit.markStart` / `markEnd` (control characters no user text contains after escaping).
public struct SearchHit: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case topic, bullet, comment }
    public var kind: Kind
    public var spaceID: UUID
    public var seriesID: UUID
    public var meetingID: UUID
    public var meetingDate: LocalDate
    public var topicID: UUID?
    public var bulletID: String?
    public var title: String
    public var snippet: String
    /// The backend's relevance (lower is better), to merge topic and bullet hits.
    public var rank: Double
    /// For a comment: its id (`topicID` is the topic it is on, if any).
    public var commentID: UUID?

    public static let markStart = "\u{2}"
    public static let markEnd = "\u{3}"

    public init(kind: Kind, spaceID: UUID, seriesID: UUID, meetingID: UUID, meetingDate: LocalDate, topicID: UUID?,
                bulletID: String?, title: String, snippet: String, rank: Double = 0, commentID: UUID? = nil) {
        self.kind = kind
        self.spaceID = spaceID
        self.seriesID = seriesID
        self.meetingID = meetingID
        self.meetingDate = meetingDate
        self.topicID = topicID
        self.bulletID = bulletID
        self.title = title
        self.snippet = snippet
        self.rank = rank
        self.commentID = commentID
    }

    /// Hits of every kind in one list, most relevant first (ties keep the earlier lists first).
    public static func merged(_ lists: [SearchHit]..., limit: Int) -> [SearchHit] {
        Array(lists.joined().enumerated().sorted { a, b in
            a.element.rank != b.element.rank ? a.element.rank < b.element.rank : a.offset < b.offset
        }.map(\.element).prefix(limit))
    }
}
