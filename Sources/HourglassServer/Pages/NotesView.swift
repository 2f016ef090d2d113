import Foundation
import HourglassCore
import HourglassStore

/// The notes of a meeting as readable HTML (no JavaScript needed) and as Markdown.
enum NotesView {
    /// Sections in reading order: the meeting's own notes, then each topic as the board shows it.
    static func sections(_ board: Board) -> [(id: String, title: String, topic: Topic?)] {
        [(NotesDocument.meetingSection, "Meeting notes", nil)]
            + board.displayOrder.map { topic in (topic.id.uuidString.lowercased(), "[\(topic.tag)] \(topic.title) (\(topic.proposerName))", topic) }
    }

    static func html(_ board: Board, document: NotesDocument) -> HTML {
        func list(_ parent: String) -> HTML {
            let children = document.children(of: parent)
            guard !children.isEmpty else { return "" }
            let items: [HTML] = children.map { bullet in
                "<li id=\"bullet-\(bullet.id)\" data-bullet=\"\(bullet.id)\"><span class=\"text\">\(linkified(bullet.text))</span>\(list(bullet.id))</li>"
            }
            return "<ul class=\"bullets\">\(items)</ul>"
        }
        let parts: [HTML] = sections(board).map { section in
            """
            <section class="notes-section" data-section="\(section.id)" aria-label="\(section.title)">
            <h3>\(section.title)</h3>
            \(list(section.id))
            </section>
            """
        }
        return "\(parts)"
    }

    /// Text with http(s) links made clickable; everything else escaped.
    static func linkified(_ text: String) -> HTML {
        var out = HTML(raw: "")
        var rest = Substring(text)
        while let range = rest.range(of: #"https?://[^\s<>"']+"#, options: .regularExpression) {
            out.rendered += HTML.escape(String(rest[..<range.lowerBound]))
            var url = String(rest[range])
            var trailing = ""
            while let last = url.last, ".,;:!?)".contains(last) {
                trailing = String(last) + trailing
                url.removeLast()
            }
            out.rendered += "<a href=\"\(HTML.escape(url))\" rel=\"noopener nofollow ugc\">\(HTML.escape(url))</a>\(HTML.escape(trailing))"
            rest = rest[range.upperBound...]
        }
        out.rendered += HTML.escape(String(rest))
        return out
    }

    static func markdown(_ board: Board, document: NotesDocument, seriesName: String) -> String {
        var lines = ["# \(seriesName) — \(board.meeting.date)", ""]
        if let reason = board.meeting.skipReason { lines += ["Skipped: \(reason)", ""] }
        func bullets(_ parent: String, depth: Int) {
            for bullet in document.children(of: parent) {
                let text = bullet.text.replacingOccurrences(of: "\n", with: " ")
                lines.append(String(repeating: "  ", count: depth) + "- " + text)
                bullets(bullet.id, depth: depth + 1)
            }
        }
        for section in sections(board) {
            if let topic = section.topic {
                let votes = board.votes(on: topic.id)
                lines.append("## " + String(repeating: "*", count: min(votes, 20)) + (votes > 0 ? " " : "") + section.title)
            } else {
                lines.append("## \(section.title)")
            }
            bullets(section.id, depth: 0)
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}
