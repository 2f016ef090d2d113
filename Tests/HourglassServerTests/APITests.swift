import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import HourglassServer

@Suite struct SetupAndAccountTests {
    @Test func theSetupLinkCreatesTheAdministratorOnce() async throws {
        let app = TestApp()
        try await app.run { client in
            #expect(app.setup.link?.contains("/setup?token=") == true)
            #expect(try await client.call(.get, "/setup?token=\(app.setup.token ?? "")").status == .ok)
            let wrong = try await client.call(.post, "/api/setup", json: ["token": "guess", "name": "Eve", "email": "eve@example.com", "password": "password1"])
            #expect(wrong.status == .gone)
            let token = try await client.setUpAdmin(app)
            let me = try await client.call(.get, "/api/me", token: token)
            #expect(me.json["isAdmin"] as? Bool == true)
            let again = try await client.call(.post, "/api/setup", json: ["token": app.setup.token ?? "", "name": "Eve", "email": "eve@example.com", "password": "password1"])
            #expect(again.status == .gone)
            #expect(try await client.call(.get, "/setup?token=\(app.setup.token ?? "")").status == .gone)
        }
    }

    @Test func signInRotatesTheSessionAndSignOutEndsIt() async throws {
        let app = TestApp()
        try await app.run { client in
            let first = try await client.signUp("Ann")
            let signin = try await client.call(.post, "/api/signin", json: ["email": "ann@example.com", "password": "password Ann"], token: first)
            let second = signin.json["token"] as? String ?? ""
            #expect(signin.status == .ok)
            #expect(second != first && !second.isEmpty)
            #expect(signin.headers[.setCookie]?.contains("HttpOnly") == true)
            #expect(signin.headers[.setCookie]?.contains("SameSite=Lax") == true)
            #expect(try await client.call(.get, "/api/me", token: first).status == .unauthorized) // old id is gone
            #expect(try await client.call(.get, "/api/me", token: second).status == .ok)
            #expect(try await client.call(.get, "/api/me", headers: [.authorization: "Bearer \(second)"]).status == .ok)
            #expect(try await client.call(.post, "/api/signout", token: second).status == .noContent)
            #expect(try await client.call(.get, "/api/me", token: second).status == .unauthorized)
        }
    }

    @Test func signUpAndSignInErrorsAreClear() async throws {
        let app = TestApp()
        try await app.run { client in
            _ = try await client.signUp("Ann")
            let duplicate = try await client.call(.post, "/api/signup", json: ["name": "Ann 2", "email": "ANN@example.com", "password": "password 2"])
            #expect(duplicate.status == .conflict)
            #expect(duplicate.headers[.contentType] == "application/problem+json")
            let short = try await client.call(.post, "/api/signup", json: ["name": "Bo", "email": "bo@example.com", "password": "short"])
            #expect(short.status == .unprocessableContent)
            #expect(short.detail.contains("at least 8"))
            let wrong = try await client.call(.post, "/api/signin", json: ["email": "ann@example.com", "password": "nope nope"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.detail == "Wrong email or password")
            // a form post keeps what was typed and says what is wrong
            let page = try await client.call(.post, "/signup", form: "name=%3Cb%3EBo&email=not-an-email&password=password1")
            #expect(page.status == .unprocessableContent)
            #expect(page.text.contains("value=\"&lt;b&gt;Bo\""))
            #expect(page.text.contains("is not an email address"))
        }
    }

    @Test func redirectsAfterSignInStayOnThisSite() async throws {
        let app = TestApp()
        try await app.run { client in
            _ = try await client.signUp("Ann")
            for (next, expected) in [("%2F%2Fevil.example", "/"), ("https%3A%2F%2Fevil.example", "/"), ("%2Fs%2Farch", "/s/arch"), ("%2F%5Cevil", "/")] {
                let reply = try await client.call(.post, "/signin", form: "email=ann%40example.com&password=password+Ann&next=\(next)")
                #expect(reply.status == .seeOther)
                #expect(reply.headers[.location] == expected)
            }
        }
    }
}

@Suite struct BoardAPITests {
    @Test func proposeVoteAndTheBudget() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let ann = try await client.signUp("Ann")
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public", settings: ["votesPerParticipant": "2", "maxVotesPerTopic": "2"])
            let proposed = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "How do we version events?"], token: ann)
            #expect(proposed.status == .ok, "\(proposed.text)")
            let id = proposed.topics.first?["id"] as? String ?? ""
            #expect(proposed.topics.first?["proposerName"] as? String == "Ann")
            #expect(try await client.command(meeting, ["type": "vote", "topicId": id], token: ann).status == .ok)
            let second = try await client.command(meeting, ["type": "vote", "topicId": id], token: ann)
            #expect(second.topics.first?["votes"] as? Int == 2)
            #expect(second.me["votesLeft"] as? Int == 0)
            let third = try await client.command(meeting, ["type": "vote", "topicId": id], token: ann)
            #expect(third.status == .conflict)
            #expect(third.detail.contains("used all 2"))
            let revote = try await client.command(meeting, ["type": "revote", "thumb": "up"], token: ann)
            #expect(revote.status == .conflict)
            #expect(try await client.command(meeting, ["type": "vote", "topicId": UUID().uuidString], token: ann).status == .notFound)
            #expect(try await client.command(meeting, ["type": "vote", "topicId": "x"], token: ann).status == .unprocessableContent)
            #expect(try await client.command(meeting, ["type": "teleport"], token: ann).status == .unprocessableContent)
            #expect(try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "   "], token: ann).status == .unprocessableContent)
            #expect(try await client.command(meeting, ["type": "endMeeting"], token: ann).status == .forbidden)
            #expect(try await client.command(meeting, ["type": "vote", "topicId": id], token: nil).status == .unauthorized)
            // nothing above changed the board
            let board = try await client.call(.get, meeting, token: ann)
            #expect(board.board["seq"] as? Int == 3)
            #expect(board.topics.count == 1)
        }
    }

    @Test func hostileBodies() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay)
            let huge = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": String(repeating: "x", count: 10_000_000)], token: fay)
            #expect(huge.status == .contentTooLarge)
            #expect(huge.headers[.contentType] == "application/problem+json")
            let malformed = try await client.call(.post, meeting + "/commands", raw: Array("{\"type\": \"vote\",".utf8), token: fay)
            #expect(malformed.status == .badRequest)
            #expect(malformed.detail.contains("Malformed JSON"))
            let invalidUTF8 = try await client.call(.post, meeting + "/commands", raw: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D], token: fay)
            #expect(invalidUTF8.status == .badRequest)
            #expect(invalidUTF8.detail.contains("UTF-8"))
            let nested = try await client.call(.post, meeting + "/commands", raw: Array(#"{"type": ["vote"]}"#.utf8), token: fay)
            #expect(nested.status == .badRequest)
            let tooLong = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": String(repeating: "y", count: 301)], token: fay)
            #expect(tooLong.status == .unprocessableContent)
            #expect(tooLong.detail.contains("too long"))
            let board = try await client.call(.get, meeting, token: fay)
            #expect(board.topics.isEmpty)
            #expect(board.board["seq"] as? Int == 0)
            // the server carries on
            #expect(try await client.call(.get, "/healthz").text == "ok")
        }
    }

    @Test func theTimeBoxRunsOnTheServerClock() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let ann = try await client.signUp("Ann")
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public", settings: ["timeBoxMinutes": "15"])
            let topic = try await client.command(meeting, ["type": "propose", "tag": "analysis", "title": "Poke holes"], token: ann).topics[0]["id"] as? String ?? ""
            let started = try await client.command(meeting, ["type": "startTopic", "topicId": ""], token: fay)
            #expect(started.clock?["topicId"] as? String == topic)
            let deadline = started.clock?["deadline"] as? Int ?? 0
            #expect(deadline == Int((app.clock.now.timeIntervalSince1970 + 900) * 1000))
            app.clock.advance(900)
            // the timer service opens the re-vote by itself (a read shows it at once, advanced to the server's
            // clock; the stored board follows when the timer service writes it, with the next sequence number)
            let revote = try await poll { try await client.call(.get, meeting, token: ann) } until: {
                $0.clock?["phase"] as? String == "revote" && $0.board["seq"] as? Int == 3
            }
            #expect(revote.board["seq"] as? Int == 3)
            #expect(try await client.command(meeting, ["type": "revote", "thumb": "up"], token: ann).clock?["tally"] as? [String: Int] == ["up": 1, "sideways": 0, "down": 0])
            app.clock.advance(60)
            let extended = try await poll { try await client.call(.get, meeting, token: ann) } until: { $0.clock?["phase"] as? String == "discussing" }
            #expect(extended.clock?["deadline"] as? Int == deadline + 60_000 + 300_000)
            #expect(try await client.command(meeting, ["type": "endTopic"], token: fay).topics.first?["status"] as? String == "done")
        }
    }

    @Test func endingAMeetingCarriesTopicsOver() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay)
            _ = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "Left for next week"], token: fay)
            #expect(try await client.command(meeting, ["type": "endMeeting"], token: fay).status == .ok)
            let series = try await client.call(.get, "/api/spaces/arch/series/weekly", token: fay)
            let meetings = series.json["meetings"] as? [[String: Any]] ?? []
            #expect(meetings.map { $0["status"] as? String } == ["upcoming", "ended"])
            let next = try await client.call(.get, "/api/spaces/arch/series/weekly/meetings/\(meetings[0]["date"] as? String ?? "")", token: fay)
            #expect(next.topics.first?["title"] as? String == "Left for next week")
            #expect(next.topics.first?["carriedOver"] as? Bool == true)
        }
    }
}

@Suite struct AccessTests {
    @Test func privateSpacesAre404ForOutsidersEverywhere() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let eve = try await client.signUp("Eve")
            let meeting = try await client.makeMeeting(owner: fay)
            let date = meeting.split(separator: "/").last.map(String.init) ?? ""
            for token in [nil, eve] {
                for path in ["/s/arch", "/s/arch/weekly", "/s/arch/weekly/\(date)", "/api/spaces/arch", "/api/spaces/arch/series",
                             "/api/spaces/arch/series/weekly", meeting, "/api/spaces/arch/members"] {
                    let reply = try await client.call(.get, path, token: token)
                    #expect(reply.status == .notFound, "\(path) answered \(reply.status)")
                    #expect(!reply.text.contains("Weekly"))
                }
                #expect(try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "sneak"], token: token).status == .notFound)
                #expect(try await client.call(.post, "/s/arch/weekly/\(date)/commands", form: "type=propose&tag=quest&title=x", token: token).status == .notFound)
                let spaces = try await client.call(.get, "/api/spaces", token: token)
                #expect(!spaces.text.contains("arch"))
            }
            // a nonexistent space looks the same
            #expect(try await client.call(.get, "/api/spaces/nope", token: eve).detail == "Not found")
            // once a member, Eve can take part but not facilitate
            let added = try await client.call(.post, "/api/spaces/arch/members", json: ["email": "eve@example.com", "role": "member"], token: fay)
            #expect(added.status == .ok, "\(added.text)")
            #expect(try await client.call(.get, meeting, token: eve).status == .ok)
            #expect(try await client.command(meeting, ["type": "startMeeting"], token: eve).status == .forbidden)
            #expect(try await client.call(.post, "/api/spaces/arch/members", json: ["email": "fay@example.com", "role": "member"], token: eve).status == .forbidden)
        }
    }

    @Test func pagesEscapeUserTextAndForbidInlineScript() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let meeting = try await client.makeMeeting(owner: fay, visibility: "public")
            let date = meeting.split(separator: "/").last.map(String.init) ?? ""
            _ = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "<script>alert(1)</script>", "description": "<img src=x onerror=alert(2)>"], token: fay)
            let page = try await client.call(.get, "/s/arch/weekly/\(date)")
            #expect(page.status == .ok)
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.text.contains("<script>alert"))
            #expect(!page.text.contains("<img src=x"))
            #expect(page.text.contains("<ol class=\"topics\">"))
            let policy = page.headers[.contentSecurityPolicy] ?? ""
            #expect(policy.contains("script-src 'self'"))
            #expect(!policy.contains("unsafe-inline"))
            // every script tag has a src: no inline script anywhere
            let scripts = page.text.components(separatedBy: "<script").dropFirst()
            #expect(scripts.allSatisfy { $0.hasPrefix(" type=\"module\" src=\"/public/") })
        }
    }

    @Test func crossSiteFormPostsAreRefused() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let reply = try await client.call(.post, "/api/spaces", json: ["name": "X", "visibility": "public"], token: fay,
                                              headers: [.origin: "https://evil.example"])
            #expect(reply.status == .forbidden)
        }
    }

    @Test func healthAndOpenAPI() async throws {
        let app = TestApp()
        try await app.run { client in
            #expect(try await client.call(.get, "/healthz").text == "ok")
            #expect(try await client.call(.get, "/readyz").text == "ready")
            let spec = try await client.call(.get, "/openapi.json")
            #expect(spec.json["openapi"] as? String == "3.1.0")
            let paths = spec.json["paths"] as? [String: Any] ?? [:]
            #expect(paths["/api/spaces/{space}/series/{series}/meetings/{date}/commands"] != nil)
            #expect(try await client.call(.get, "/api/nothing-here").headers[.contentType] == "application/problem+json")
        }
    }
}

/// Polls until a condition holds (no wall-clock assertions: generous, bounded retries).
func poll<T>(_ fetch: () async throws -> T, until condition: (T) -> Bool) async throws -> T {
    var last = try await fetch()
    for _ in 0..<500 where !condition(last) {
        try await Task.sleep(for: .milliseconds(10))
        last = try await fetch()
    }
    #expect(condition(last))
    return last
}

@Suite struct SearchAPITests {
    @Test func searchShowsOnlyWhatTheCallerMayRead() async throws {
        let app = TestApp()
        try await app.run { client in
            let fay = try await client.setUpAdmin(app)
            let eve = try await client.signUp("Eve")
            let meeting = try await client.makeMeeting(owner: fay) // private
            _ = try await client.command(meeting, ["type": "propose", "tag": "quest", "title": "Secret roadmap for the event bus"], token: fay)
            let mine = try await client.call(.get, "/api/search?q=roadmap", token: fay)
            #expect(mine.status == .ok)
            let hits = (try? JSONSerialization.jsonObject(with: Data(mine.text.utf8))) as? [[String: Any]] ?? []
            #expect(hits.count == 1)
            #expect((hits.first?["url"] as? String)?.hasPrefix("/s/arch/weekly/") == true)
            #expect(try await client.call(.get, "/api/search?q=roadmap", token: eve).text == "[]")
            #expect(try await client.call(.get, "/api/search?q=roadmap").text == "[]")
            #expect(try await client.call(.get, "/api/search?q=roadmap&space=arch", token: eve).status == .notFound)
            let page = try await client.call(.get, "/search?q=%22event+bus%22", token: fay)
            #expect(page.text.contains("<mark>event</mark> <mark>bus</mark>") || page.text.contains("<mark>event bus</mark>"))
            #expect(!(try await client.call(.get, "/search?q=roadmap", token: eve)).text.contains("Secret"))
            for hostile in ["%22", "*", "NEAR(a%20b)", "((", "%27%3B%20DROP%20TABLE%20topics", String(repeating: "x%20", count: 3000)] {
                #expect(try await client.call(.get, "/api/search?q=\(hostile)", token: fay).status == .ok, "\(hostile.prefix(30))")
            }
            #expect(try await client.call(.get, "/api/search?q=x&from=yesterday", token: fay).status == .unprocessableContent)
            #expect(try await client.call(.get, "/api/search", token: fay).status == .badRequest)
        }
    }
}
