import Foundation
import HourglassCore
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import Testing
@testable import HourglassServer

func frame(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// A notes frame with changes numbered from `firstSeq`.
func notesFrame(_ id: String, client: String, firstSeq: Int, _ changes: [[String: Any]]) -> String {
    frame(["type": "notes", "id": id, "client": client,
           "changes": changes.enumerated().map { index, change in change.merging(["clientSeq": firstSeq + index]) { $1 } }])
}

func entries(_ frame: [String: Any]) -> [[String: Any]] { frame["changes"] as? [[String: Any]] ?? [] }

@Suite struct NotesLiveTests {
    @Test func twoClientsTypingInOneBulletConverge() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let ann = try await client.signUp("Ann")
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public")
            // Fay creates the bullet first.
            try await client.withSocket(meeting, token: fay) { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.text(frame(["type": "hello", "client": "fay", "since": NSNull()])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesSnapshot" }
                try await outbound.write(.text(notesFrame("c", client: "fay", firstSeq: 1,
                                                          [["kind": "create", "bullet": "b1", "parent": "meeting", "order": "V", "text": "🙂"]])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesAck" }
            }
            // Both type at the start of "🙂" against revision 0, at the same time.
            let raw = try await withThrowingTaskGroup(of: (String, Data).self) { group in
                for (name, token, text) in [("fay", fay, "Hello "), ("ann", ann, "World ")] {
                    group.addTask {
                        let seen = LockedBox<Data>(Data())
                        try await client.withSocket(meeting, token: token) { inbound, outbound in
                            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                            try await outbound.write(.text(frame(["type": "hello", "client": name, "since": 1])))
                            _ = try await receive(&messages) { $0["type"] as? String == "notesReady" }
                            try await outbound.write(.text(notesFrame("t", client: name, firstSeq: name == "fay" ? 2 : 1,
                                                                      [["kind": "text", "bullet": "b1", "rev": 0, "op": [text, 2]]])))
                            var log: [[String: Any]] = []
                            while log.count < 2 {
                                let next = try await receive(&messages) { $0["type"] as? String == "notes" || $0["type"] as? String == "error" }
                                #expect(next["type"] as? String == "notes", "\(next)")
                                log += entries(next)
                            }
                            seen.value = try JSONSerialization.data(withJSONObject: log)
                        }
                        return (name, seen.value)
                    }
                }
                return try await group.reduce(into: [String: Data]()) { $0[$1.0] = $1.1 }
            }
            let logs = raw.mapValues { (try? JSONSerialization.jsonObject(with: $0)) as? [[String: Any]] ?? [] }
            // Both saw the same two changes in the same order, each transformed once by the server.
            let seqs = logs.mapValues { $0.map { $0["seq"] as? Int ?? -1 } }
            #expect(seqs["fay"] == [2, 3] && seqs["ann"] == [2, 3], "\(seqs)")
            // Entries carry exactly the fields docs/protocol.md lists (who and when stay in the op log).
            for entry in logs.values.flatMap({ $0 }) {
                #expect(Set(entry.keys) == ["seq", "client", "clientSeq", "change"], "\(entry)")
            }
            var text = "🙂"
            for entry in logs["ann"]! {
                let change = entry["change"] as! [String: Any]
                let op = try JSONDecoder().decode(TextOperation.self, from: JSONSerialization.data(withJSONObject: change["op"]!))
                text = try op.apply(text)
            }
            #expect(text == "Hello World 🙂" || text == "World Hello 🙂")
            let stored = try await client.call(.get, meeting + "/notes", token: ann)
            let bullets = stored.json["bullets"] as? [[String: Any]] ?? []
            #expect(bullets.first?["text"] as? String == text)
            #expect(bullets.first?["rev"] as? Int == 2)
            // The Markdown page of the notes has it too.
            let date = meeting.split(separator: "/").last!
            let markdown = try await client.call(.get, "/s/arch/weekly/\(date)/notes.md")
            #expect(markdown.text.contains("\n\n- \(text)\n"))
        }
    }

    @Test func badNotesChangesGetErrorsAndChangeNothing() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay)
            try await client.withSocket(meeting, token: fay) { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                func expectError(_ text: String, _ code: String) async throws {
                    try await outbound.write(.text(text))
                    let reply = try await receive(&messages) { ["error", "notesAck"].contains($0["type"] as? String) }
                    #expect(reply["code"] as? String == code, "\(text.prefix(120)) → \(reply)")
                }
                try await expectError(notesFrame("early", client: "c", firstSeq: 1, [["kind": "delete", "bullet": "x"]]), "conflict")
                try await outbound.write(.text(frame(["type": "hello", "client": "c", "since": NSNull()])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesSnapshot" }
                try await outbound.write(.text(notesFrame("setup", client: "c", firstSeq: 1, [
                    ["kind": "create", "bullet": "a", "parent": "meeting", "order": "V", "text": "a😀b"],
                    ["kind": "create", "bullet": "b", "parent": "a", "order": "V", "text": ""],
                ])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesAck" }
                var seq = 3
                func next() -> Int { defer { seq += 1 }; return seq }
                try await expectError(notesFrame("1", client: "c", firstSeq: next(), [["kind": "text", "bullet": "nope", "rev": 0, "op": ["x"]]]), "notFound")
                try await expectError(notesFrame("2", client: "c", firstSeq: next(), [["kind": "text", "bullet": "a", "rev": 7, "op": [4]]]), "stale")
                try await expectError(notesFrame("3", client: "c", firstSeq: next(), [["kind": "text", "bullet": "a", "rev": 0, "op": [9, "x"]]]), "invalid")
                try await expectError(notesFrame("4", client: "c", firstSeq: next(), [["kind": "text", "bullet": "a", "rev": 0, "op": [2, "x", 2]]]), "invalid")
                try await expectError(notesFrame("5", client: "c", firstSeq: next(), [["kind": "move", "bullet": "a", "parent": "b", "order": "V"]]), "cycle")
                try await expectError(notesFrame("6", client: "c", firstSeq: next(), [["kind": "move", "bullet": "a", "parent": "a", "order": "V"]]), "cycle")
                try await expectError(notesFrame("7", client: "c", firstSeq: next(), [["kind": "create", "bullet": "z", "parent": "nowhere", "order": "V"]]), "notFound")
                try await expectError(notesFrame("8", client: "c", firstSeq: next(), [["kind": "create", "bullet": "a", "parent": "meeting", "order": "V"]]), "invalid")
                try await expectError(notesFrame("9", client: "c", firstSeq: next(), [["kind": "create", "bullet": "y", "parent": "meeting", "order": "0"]]), "invalid")
                try await expectError(notesFrame("10", client: "c", firstSeq: next(), [["kind": "text", "bullet": "b", "rev": 0,
                                                                                         "op": [String(repeating: "x", count: 10_001)]]]), "tooLarge")
                let many = (0..<600).map { _ in ["kind": "delete", "bullet": "b"] as [String: Any] }
                try await expectError(notesFrame("11", client: "c", firstSeq: next(), many), "tooLarge")
                try await expectError(frame(["type": "notes", "id": "12", "client": "c", "changes": [["kind": "teleport", "bullet": "a", "clientSeq": 99]]]), "invalid")
                try await expectError(frame(["type": "notes", "id": "13", "client": "c", "changes": "all of them"]), "malformed")
                try await expectError(frame(["type": "notes", "id": "14", "client": "../../etc", "changes": []]), "malformed")
                // all or nothing: the valid first change of a refused frame is not applied either
                try await expectError(notesFrame("15", client: "c", firstSeq: next(), [
                    ["kind": "text", "bullet": "a", "rev": 0, "op": ["lost ", 4]],
                    ["kind": "move", "bullet": "a", "parent": "b", "order": "V"],
                ]), "cycle")
                try await outbound.write(.text(#"{"type":"ping"}"#))
                _ = try await receive(&messages) { $0["type"] as? String == "pong" }
            }
            let stored = try await client.call(.get, meeting + "/notes", token: fay)
            let bullets = (stored.json["bullets"] as? [[String: Any]] ?? []).map { "\($0["id"]!):\($0["parent"]!):\($0["text"]!):\($0["rev"]!)" }
            #expect(bullets == ["a:meeting:a😀b:0", "b:a::0"])
            #expect(stored.json["seq"] as? Int == 2)
        }
    }

    @Test func readersCannotEditAndSeeNotesWithoutJavaScript() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public")
            try await client.withSocket(meeting, token: nil) { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.text(frame(["type": "hello", "client": "guest", "since": NSNull()])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesSnapshot" }
                try await outbound.write(.text(notesFrame("x", client: "guest", firstSeq: 1, [["kind": "create", "bullet": "g", "parent": "meeting", "order": "V"]])))
                let reply = try await receive(&messages) { $0["type"] as? String == "error" }
                #expect(reply["code"] as? String == "forbidden")
            }
            try await client.withSocket(meeting, token: fay) { inbound, outbound in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.text(frame(["type": "hello", "client": "fay", "since": NSNull()])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesSnapshot" }
                try await outbound.write(.text(notesFrame("x", client: "fay", firstSeq: 1, [
                    ["kind": "create", "bullet": "p", "parent": "meeting", "order": "V", "text": "See <b>https://example.org/adr-7</b>."],
                    ["kind": "create", "bullet": "q", "parent": "p", "order": "V", "text": "nested"],
                ])))
                _ = try await receive(&messages) { $0["type"] as? String == "notesAck" }
            }
            let date = meeting.split(separator: "/").last!
            let page = try await client.call(.get, "/s/arch/weekly/\(date)")
            #expect(page.text.contains(#"See &lt;b&gt;<a href="https://example.org/adr-7" rel="noopener nofollow ugc">https://example.org/adr-7</a>&lt;/b&gt;."#))
            #expect(page.text.contains(#"<ul class="bullets"><li id="bullet-q" data-bullet="q"><span class="text">nested</span></li></ul>"#))
        }
    }
}
