import Foundation
import Testing
@testable import HourglassCore
@testable import HourglassServer

@Suite struct NotifyUnitTests {
    @Test func internalAddressesAreRecognized() {
        for address in ["127.0.0.1", "127.5.5.5", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::5", "fc12::1",
                        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "garbage"] {
            #expect(WebhookAddress.isInternal(address), "\(address)")
        }
        for address in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            #expect(!WebhookAddress.isInternal(address), "\(address)")
        }
    }

    @Test func refusedWebhookURLsSayWhy() async throws {
        for url in ["ftp://example.org/", "http://", "javascript:alert(1)", "http://user:pw@example.org/", String(repeating: "a", count: 3000)] {
            await #expect(throws: DeliveryError.self) { _ = try await WebhookAddress.validate(url, allowPrivate: false) }
        }
        await #expect(throws: DeliveryError.self) { _ = try await WebhookAddress.validate("http://127.0.0.1:8080/hook", allowPrivate: false) }
        #expect(try await WebhookAddress.validate("http://127.0.0.1:8080/hook", allowPrivate: true).port == 8080)
    }

    @Test func emailMessagesAreWellFormed() {
        let message = SMTPClient.message(from: "Hourglass <h@example.org>", to: "ann@example.org", subject: "Ünïcode\r\nBcc: evil@example.org",
                                         text: ".leading dot\nline", html: "<p>x</p>", key: "k1", unsubscribe: "http://h/unsubscribe?token=t",
                                         date: Date(timeIntervalSince1970: 0))
        let headers = message.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(headers.contains("To: <ann@example.org>"))
        #expect(headers.contains { $0.hasPrefix("Subject: =?UTF-8?B?") })
        #expect(!headers.contains { $0.hasPrefix("Bcc:") })  // no header injection through the subject
        #expect(headers.contains("List-Unsubscribe: <http://h/unsubscribe?token=t>"))
        #expect(headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
        #expect(headers.contains { $0.hasPrefix("Message-ID: <") })
        #expect(message == SMTPClient.message(from: "Hourglass <h@example.org>", to: "ann@example.org", subject: "Ünïcode\r\nBcc: evil@example.org",
                                              text: ".leading dot\nline", html: "<p>x</p>", key: "k1", unsubscribe: "http://h/unsubscribe?token=t",
                                              date: Date(timeIntervalSince1970: 0)))
        #expect(SMTPClient.dotStuffed("a\r\n.b\r\n..c") == "a\r\n..b\r\n...c")
        #expect(SMTPClient.address(in: "Hourglass <h@example.org>") == "h@example.org")
        #expect(!SMTPClient.isAddress("a@b\r\nRCPT TO:<x@y>") && SMTPClient.isAddress("ann.lee+tag@example.org"))
    }

    @Test func mentionsAndAudience() {
        #expect(Comment.mentions(in: "Hi @ann.lee and @Bo, mail me at x@example.org; @ann.lee again.") == ["ann.lee", "bo"])
        #expect(Comment.handle("ann.lee", names: "Ann Lee") && Comment.handle("annlee", names: "Ann Lee") && Comment.handle("ann", names: "Ann Lee"))
        #expect(!Comment.handle("bob", names: "Ann Lee"))
        let (a, b, c, d) = (UUID(), UUID(), UUID(), UUID())
        let watches = [Watch(userID: a, kind: .space, targetID: UUID(), spaceID: UUID(), automatic: false, createdAt: Date()),
                       Watch(userID: b, kind: .topic, targetID: UUID(), spaceID: UUID(), automatic: true, muted: true, createdAt: Date()),
                       Watch(userID: c, kind: .topic, targetID: UUID(), spaceID: UUID(), automatic: true, createdAt: Date())]
        #expect(Audience.recipients(watches: watches, mentioned: [d], actor: c, mayRead: { $0 != d }) == [a])
        #expect(Audience.recipients(watches: watches, mentioned: [b], actor: nil, mayRead: { _ in true }) == [a, b, c])
        #expect(Delivery.backoff(afterAttempt: 1) == 30 && Delivery.backoff(afterAttempt: 3) == 120 && Delivery.backoff(afterAttempt: 30) == 6 * 3600)
    }
}
