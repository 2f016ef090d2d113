import Foundation

/// A meeting as the archive shows it: its board (agenda, votes, time boxes) and its notes.
public struct ArchivedMeeting: Sendable {
    public var board: Board
    public var notes: NotesDocument

    public init(board: Board, notes: NotesDocument) {
        self.board = board
        self.notes = notes
    }

    public var meeting: Meeting { board.meeting }

    /// Topics in the order they were taken: discussed ones first, then whatever was left.
    public var topics: [Topic] {
        let current = board.meeting.timeBox.flatMap { board.topic($0.topicID) }.map { [$0] } ?? []
        return board.discussed + current + board.agenda + board.topics.filter { $0.status == .carriedOver }
    }

    /// Sections of the notes in reading order, with the topic each belongs to (nil: the meeting's own).
    public var sections: [(id: String, topic: Topic?)] {
        [(NotesDocument.meetingSection, nil)] + topics.map { ($0.id.uuidString.lowercased(), $0) }
    }
}

/// Renders archived meetings in the formats people take them elsewhere in: Markdown (which
/// `ArchiveText` reads back to the same structure), HTML, Confluence storage format, Atom and iCalendar.
public enum ArchiveExport {
    public enum Format: String, CaseIterable, Sendable {
        case markdown, html, json, confluence, atom

        public var mediaType: String {
            switch self {
            case .markdown: "text/markdown; charset=utf-8"
            case .html: "text/html; charset=utf-8"
            case .json: "application/json"
            case .confluence: "application/xhtml+xml; charset=utf-8"
            case .atom: "application/atom+xml; charset=utf-8"
            }
        }

        public var fileExtension: String {
            switch self {
            case .markdown: "md"
            case .html: "html"
            case .json: "json"
            case .confluence: "xhtml"
            case .atom: "atom"
            }
        }
    }

    /// "** [inform] (Ned) Title": votes as leading stars, the tag, the proposer, then the title
    /// (escaped with a backslash when it starts with a mark, so it reads back unchanged).
    public static func topicLine(_ topic: Topic, votes: Int) -> String {
        var parts: [String] = []
        if votes > 0 { parts.append(String(repeating: "*", count: min(votes, 50))) }
        if !topic.tag.isEmpty { parts.append("[\(topic.tag)]") }
        let proposer = topic.proposerName.replacingOccurrences(of: ")", with: "").replacingOccurrences(of: "(", with: "")
        if !proposer.isEmpty { parts.append("(\(proposer))") }
        let title = topic.title.first.map { "[(*+\\#-".contains($0) } == true ? "\\" + topic.title : topic.title
        parts.append(title)
        return parts.joined(separator: " ")
    }

    /// The reason line of a skipped meeting, read back by `ArchiveText` as the skip reason.
    static func skipLine(_ reason: String) -> String {
        let lower = reason.lowercased()
        return ["skipped", "cancelled", "canceled", "no meeting"].contains(where: lower.hasPrefix) ? reason : "Skipped: \(reason)"
    }

    // MARK: Markdown

    public static func markdown(title: String, description: String, meetings: [ArchivedMeeting]) -> String {
        var lines = ["# \(oneLine(title))", ""]
        if !description.isEmpty { lines += description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [""] }
        for archived in meetings {
            lines += ["## \(archived.meeting.date)", ""]
            if let reason = archived.meeting.skipReason, archived.meeting.status == .skipped {
                lines += ["- " + oneLine(skipLine(reason)), ""]
                continue
            }
            for section in archived.sections {
                if let topic = section.topic {
                    lines += ["### " + oneLine(topicLine(topic, votes: archived.board.votes(on: topic.id))), ""]
                    if !topic.description.isEmpty {
                        lines += topic.description.split(separator: "\n").map { "> " + $0 } + [""]
                    }
                }
                let before = lines.count
                walk(archived.notes, section.id) { bullet, depth in
                    lines.append(String(repeating: "  ", count: depth) + "- " + oneLine(bullet.text))
                }
                if lines.count > before { lines.append("") }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func walk(_ notes: NotesDocument, _ parent: String, depth: Int = 0, _ visit: (Bullet, Int) -> Void) {
        for bullet in notes.children(of: parent) {
            visit(bullet, depth)
            walk(notes, bullet.id, depth: depth + 1, visit)
        }
    }

    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    }

    // MARK: HTML and Confluence storage format

    /// XHTML of the meetings: one `h2` per date, the agenda with tags, proposers, votes and how long
    /// each topic was discussed, and the notes as nested lists. Confluence storage format accepts it as is.
    public static func xhtmlBody(_ meetings: [ArchivedMeeting], link: (Meeting) -> String?) -> String {
        var out = ""
        for archived in meetings {
            let m = archived.meeting
            let heading = link(m).map { "<a href=\"\(xml($0))\">\(m.date)</a>" } ?? "\(m.date)"
            out += "<h2 id=\"meeting-\(m.date)\">\(heading)</h2>\n"
            if m.status == .skipped {
                out += "<p><em>\(xml(skipLine(m.skipReason ?? "")))</em></p>\n"
                continue
            }
            for section in archived.sections {
                if let topic = section.topic {
                    let votes = archived.board.votes(on: topic.id)
                    var meta: [String] = []
                    if !topic.proposerName.isEmpty { meta.append("proposed by \(xml(topic.proposerName))") }
                    meta.append("\(votes) vote\(votes == 1 ? "" : "s")")
                    if let duration = durationText(topic) { meta.append(duration) }
                    let tag = topic.tag.isEmpty ? "" : "<strong>[\(xml(topic.tag))]</strong> "
                    out += "<h3 id=\"topic-\(topic.id.uuidString.lowercased())\">\(tag)\(xml(topic.title))</h3>\n<p><em>\(meta.joined(separator: " · "))</em></p>\n"
                    if !topic.description.isEmpty { out += "<p>\(xml(topic.description))</p>\n" }
                } else if !archived.notes.children(of: section.id).isEmpty {
                    out += "<h3>Meeting notes</h3>\n"
                }
                out += list(archived.notes, section.id)
            }
        }
        return out
    }

    static func list(_ notes: NotesDocument, _ parent: String) -> String {
        let children = notes.children(of: parent)
        guard !children.isEmpty else { return "" }
        let items = children.map { "<li id=\"bullet-\(xml($0.id))\">\(linked($0.text))\(list(notes, $0.id))</li>" }
        return "<ul>\(items.joined())</ul>\n"
    }

    /// "discussed 17 min (10 + 2 extensions)", when the topic was on the clock.
    public static func durationText(_ topic: Topic) -> String? {
        guard let seconds = topic.discussedSeconds else { return nil }
        let extensions = topic.extensionsUsed > 0
            ? " (\(topic.timeBoxMinutes ?? 0) + \(topic.extensionsUsed) extension\(topic.extensionsUsed == 1 ? "" : "s"))" : ""
        return "discussed \(seconds / 60) min\(extensions)"
    }

    public static func html(title: String, description: String, meetings: [ArchivedMeeting], link: (Meeting) -> String?) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(xml(title))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1"></head>
        <body><h1>\(xml(title))</h1>
        \(description.isEmpty ? "" : "<p>\(xml(description).replacingOccurrences(of: "\n", with: "<br/>"))</p>")
        \(xhtmlBody(meetings, link: link))</body></html>

        """
    }

    /// Confluence storage format: the XHTML body without a document around it.
    public static func confluence(description: String, meetings: [ArchivedMeeting], link: (Meeting) -> String?) -> String {
        (description.isEmpty ? "" : "<p>\(xml(description).replacingOccurrences(of: "\n", with: "<br/>"))</p>\n") + xhtmlBody(meetings, link: link)
    }

    /// Escaped text with http(s) links as anchors (with a `rel` attribute when given).
    public static func linked(_ text: String, rel: String? = nil) -> String {
        let relAttribute = rel.map { " rel=\"\(xml($0))\"" } ?? ""
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: #"https?://[^\s<>"']+"#, options: .regularExpression) {
            out += xml(String(rest[..<range.lowerBound]))
            var url = String(rest[range])
            var trailing = ""
            while let last = url.last, ".,;:!?)".contains(last) {
                trailing = String(last) + trailing
                url.removeLast()
            }
            out += "<a href=\"\(xml(url))\"\(relAttribute)>\(xml(url))</a>\(xml(trailing))"
            rest = rest[range.upperBound...]
        }
        return out + xml(String(rest))
    }

    /// Escapes text for XML and HTML, dropping characters XML 1.0 cannot carry.
    public static func xml(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: Atom

    /// One entry of a feed: a meeting page.
    public struct FeedEntry: Sendable {
        public var id: String
        public var title: String
        public var link: String
        public var updated: Date
        public var summary: String

        public init(id: String, title: String, link: String, updated: Date, summary: String) {
            self.id = id
            self.title = title
            self.link = link
            self.updated = updated
            self.summary = summary
        }
    }

    /// An Atom 1.0 feed (RFC 4287).
    public static func atom(id: String, title: String, selfLink: String, pageLink: String, entries: [FeedEntry], now: Date) -> String {
        let updated = entries.map(\.updated).max() ?? now
        var out = """
        <?xml version="1.0" encoding="utf-8"?>
        <feed xmlns="http://www.w3.org/2005/Atom">
        <id>\(xml(id))</id>
        <title>\(xml(title))</title>
        <updated>\(rfc3339(updated))</updated>
        <link rel="self" href="\(xml(selfLink))"/>
        <link rel="alternate" type="text/html" href="\(xml(pageLink))"/>
        <generator>Hourglass</generator>

        """
        for entry in entries {
            out += """
            <entry>
            <id>\(xml(entry.id))</id>
            <title>\(xml(entry.title))</title>
            <updated>\(rfc3339(entry.updated))</updated>
            <author><name>Hourglass</name></author>
            <link rel="alternate" type="text/html" href="\(xml(entry.link))"/>
            <summary type="text">\(xml(entry.summary))</summary>
            </entry>

            """
        }
        return out + "</feed>\n"
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// What a feed entry says about a meeting: its status and topics.
    public static func summary(_ archived: ArchivedMeeting) -> String {
        if archived.meeting.status == .skipped { return skipLine(archived.meeting.skipReason ?? "") }
        let topics = archived.topics.map { topic in (topic.tag.isEmpty ? "" : "[\(topic.tag)] ") + topic.title }
        let status = archived.meeting.status == .upcoming ? "Upcoming" : archived.meeting.status == .live ? "Live now" : "Ended"
        return topics.isEmpty ? "\(status); no topics." : "\(status). Topics: " + topics.joined(separator: "; ")
    }

    // MARK: iCalendar

    /// An iCalendar feed (RFC 5545) of a series: every stored meeting plus the scheduled ones of the
    /// next `weeksAhead` weeks, in UTC (each occurrence computed in the series' time zone, so
    /// daylight-saving changes are right).
    public static func ics(series: Series, meetings: [Meeting], link: (LocalDate) -> String, now: Date, weeksAhead: Int = 12) -> String {
        var byDate = Dictionary(meetings.map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        var cursor = now
        for _ in 0..<weeksAhead {
            let next = series.schedule.nextOccurrence(after: cursor)
            if byDate[next.date] == nil {
                byDate[next.date] = Meeting(id: UUID(), seriesID: series.id, spaceID: series.spaceID, date: next.date, startsAt: next.startsAt)
            }
            cursor = next.startsAt
        }
        let stamp = icsDate(now)
        var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Hourglass//Lean Coffee//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                     "X-WR-CALNAME:\(icsText(series.name))"]
        for (date, meeting) in byDate.sorted(by: { $0.key < $1.key }) {
            let end = meeting.startsAt.addingTimeInterval(Double(series.schedule.durationMinutes) * 60)
            lines += ["BEGIN:VEVENT", "UID:\(series.id.uuidString.lowercased())-\(date)@hourglass", "DTSTAMP:\(stamp)",
                      "DTSTART:\(icsDate(meeting.startsAt))", "DTEND:\(icsDate(end))", "SUMMARY:\(icsText(series.name))",
                      "URL:\(link(date))", "STATUS:\(meeting.status == .skipped ? "CANCELLED" : "CONFIRMED")"]
            if let reason = meeting.skipReason { lines.append("DESCRIPTION:\(icsText(skipLine(reason)))") }
            lines.append("END:VEVENT")
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }

    static func icsDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func icsText(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Folds a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        var out = ""
        var count = 0
        for character in line {
            let size = String(character).utf8.count
            if count + size > 75 {
                out += "\r\n "
                count = 1
            }
            out.append(character)
            count += size
        }
        return out
    }
}
