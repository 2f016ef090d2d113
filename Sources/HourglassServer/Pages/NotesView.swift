import Foundation
import HourglassCore
import HourglassStore

/// The notes of a meeting as readable HTML (no JavaScript needed) and as Markdown.
enum NotesView {
    /// Sections in reading order: the meeting's own notes, then each topic as the board shows it.
    static func sections(_ board: Board) -> [(id: String, title: String, topic: Topic?)] {
        [(NotesDocument.meetingSection, "Meeting notes", nil)]
            + board.displayOrder.map { topic in (topic.id.uuidString.lowercased(), (topic.tag.isEmpty ? "" : "[\(topic.tag)] ") + topic.title + (topic.proposerName.isEmpty ? "" : " (\(topic.proposerName))"), topic) }
    }

    static func html(_ board: Board, document: NotesDocument) -> HTML {
        let parts: [HTML] = sections(board).map { section in
            """
            <section class="notes-section" data-section="\(section.id)" aria-label="\(section.title)">
            <h3>\(section.title)</h3>
            \(list(document, section.id))
            </section>
            """
        }
        return "\(parts)"
    }

    /// The bullets under a section or bullet as nested lists, each with its anchor.
    static func list(_ document: NotesDocument, _ parent: String) -> HTML {
        let children = document.children(of: parent)
        guard !children.isEmpty else { return "" }
        let items: [HTML] = children.map { bullet in
            let action: HTML = ActionItem(text: bullet.text).map { " class=\"action \($0.status.rawValue)\"" } ?? ""
            return "<li id=\"bullet-\(bullet.id)\" data-bullet=\"\(bullet.id)\"\(action)><span class=\"text\">\(linkified(bullet.text))</span>\(list(document, bullet.id))</li>"
        }
        return "<ul class=\"bullets\">\(items)</ul>"
    }

    /// Text with http(s) links made clickable; everything else escaped.
    static func linkified(_ text: String) -> HTML {
        HTML(raw: ArchiveExport.linked(text, rel: "noopener nofollow ugc"))
    }
}
