import Foundation

/// A topic with the meeting it belongs to, as the archive lists it.
public struct TopicRef: Sendable, Equatable {
    public var topic: Topic
    public var seriesID: UUID
    public var meetingDate: LocalDate

    public init(topic: Topic, seriesID: UUID, meetingDate: LocalDate) {
        self.topic = topic
        self.seriesID = seriesID
        self.meetingDate = meetingDate
    }
}

/// Finds topics like a given one: "we talked about the event bus on 2022-03-09 and 2022-06-15".
/// Two signals, weighed together: distinctive words shared with the title and description (words
/// rare in the space count more, common ones nothing), and the same proposer with a similar title.
public enum TopicHistory {
    public struct Match: Sendable, Equatable {
        public var ref: TopicRef
        public var score: Double
        /// The shared words that made the match, most distinctive first.
        public var sharedWords: [String]
    }

    static let stopWords: Set<String> = [
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out", "has",
        "have", "how", "its", "may", "new", "now", "old", "see", "two", "way", "who", "did", "get", "let", "put", "say", "she",
        "too", "use", "with", "this", "that", "from", "they", "will", "would", "there", "their", "what", "about", "which", "when",
        "make", "like", "into", "than", "them", "then", "these", "some", "could", "other", "should", "does", "where", "why",
        "want", "need", "more", "most", "also", "just", "been", "being", "were", "your", "yours", "over", "only", "very", "much",
        "http", "https", "www", "com", "org", "inform", "ideation", "analysis", "quest", "discuss", "question", "using", "things",
    ]

    /// Lowercased words of three or more letters, without stop words.
    public static func words(_ text: String) -> Set<String> {
        var out = Set<String>()
        let text = text.replacingOccurrences(of: #"https?://\S+"#, with: " ", options: .regularExpression)
        for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) where word.count >= 3 {
            let w = String(word)
            if !stopWords.contains(w), !w.allSatisfy(\.isNumber) { out.insert(w) }
        }
        return out
    }

    /// Topics of `all` like `topic`, best first, at most `limit`; the topic itself and topics it was
    /// carried over from or to are left out (they are the same discussion).
    public static func related(to topic: TopicRef, among all: [TopicRef], limit: Int = 8) -> [Match] {
        let documents = all.map { words($0.topic.title + " " + $0.topic.description) }
        var frequency: [String: Int] = [:]
        for document in documents { for word in document { frequency[word, default: 0] += 1 } }
        let count = Double(max(all.count, 1))
        func idf(_ word: String) -> Double { log(count / Double(frequency[word] ?? 1)) }
        let mine = words(topic.topic.title + " " + topic.topic.description)
        let myTitle = words(topic.topic.title)
        let same = Set([topic.topic.id] + [topic.topic.carriedFromID, topic.topic.carriedToID].compactMap { $0 })
        var matches: [Match] = []
        for (index, other) in all.enumerated() where !same.contains(other.topic.id) && other.topic.carriedToID != topic.topic.id {
            let shared = mine.intersection(documents[index]).filter { idf($0) > log(4) }  // in fewer than a quarter of topics
            var score = shared.reduce(0) { $0 + idf($1) }
            let proposer = topic.topic.proposerName.lowercased()
            if !proposer.isEmpty, other.topic.proposerName.lowercased() == proposer {
                let theirs = words(other.topic.title)
                let union = myTitle.union(theirs).count
                let jaccard = union == 0 ? 0 : Double(myTitle.intersection(theirs).count) / Double(union)
                if jaccard >= 0.25 { score += 2 + 4 * jaccard }
            }
            guard score >= 2.5 else { continue }
            matches.append(Match(ref: other, score: score, sharedWords: shared.sorted { idf($0) > idf($1) }))
        }
        return Array(matches.sorted { $0.score != $1.score ? $0.score > $1.score : $0.ref.meetingDate > $1.ref.meetingDate }.prefix(limit))
    }
}
