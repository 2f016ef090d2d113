import Testing
@testable import HourglassCore

@Suite struct NotesDocumentTests {
    private func apply(_ changes: [NoteChange], to document: inout NotesDocument) throws {
        for change in changes { _ = try document.apply(change) { _, _ in [] } }
    }

    /// The same case and keys as the JS test "a deleted bullet's children take its place…".
    @Test func deletedBulletsChildrenTakeItsPlace() throws {
        var document = NotesDocument(sections: [])
        try apply([("x", "meeting", "M"), ("p", "meeting", "P"), ("z", "meeting", "S"),
                   ("c1", "p", "A"), ("c2", "p", "B"), ("c3", "p", "C"), ("g", "c2", "V")]
            .map { NoteChange.create(bullet: $0.0, parent: $0.1, order: $0.2, text: "") }, to: &document)
        try apply([.delete(bullet: "p")], to: &document)
        let placed = document.children(of: "meeting").map { [$0.id, $0.order] }
        #expect(placed == [["x", "M"], ["c1", "Q"], ["c2", "R"], ["c3", "RV"], ["z", "S"]])
        #expect(document.children(of: "c2").map(\.id) == ["g"])

        // With no room left between the keys, the children keep their own.
        var full = NotesDocument(sections: [])
        try apply([.create(bullet: "p", parent: "meeting", order: "P", text: ""),
                   .create(bullet: "q", parent: "meeting", order: "P" + String(repeating: "0", count: 62) + "1", text: ""),
                   .create(bullet: "c", parent: "p", order: "B", text: ""), .delete(bullet: "p")], to: &full)
        #expect(full.bullets["c"]?.order == "B")
        #expect(full.bullets["c"]?.parent == "meeting")
    }
}
