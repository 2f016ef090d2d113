import AsyncHTTPClient
import Crypto
import Foundation
import HourglassCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a delivery attempt failed: worth retrying, or not (the message is then dead at once).
enum DeliveryError: Error, CustomStringConvertible {
    case transient(String)
    case permanent(String)

    var description: String {
        switch self {
        case let .transient(message): message
        case let .permanent(message): message
        }
    }
}

/// Where email goes: an SMTP server (plain SMTP, as a local relay or a test sink offers it).
public struct SMTPConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The sender address, e.g. "Hourglass <hourglass@example.org>".
    public var from: String

    public init(host: String, port: Int = 25, from: String) {
        self.host = host
        self.port = port
        self.from = from
    }
}

/// A minimal SMTP client (RFC 5321) for one message per connection: EHLO, MAIL, RCPT, DATA, QUIT,
/// each reply awaited with a timeout. 4xx replies and network trouble are transient; 5xx are permanent.
struct SMTPClient: Sendable {
    let configuration: SMTPConfiguration
    var timeout: Duration = .seconds(20)

    /// Sends one message; the whole conversation must finish within `timeout`.
    func send(to recipient: String, message: String) async throws {
        guard Self.isAddress(recipient) else { throw DeliveryError.permanent("\"\(recipient.prefix(80))\" is not an email address") }
        let configuration = configuration
        try await withDeadline(timeout) { try await Self.converse(configuration, to: recipient, message: message) }
    }

    private static func converse(_ configuration: SMTPConfiguration, to recipient: String, message: String) async throws {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw DeliveryError.transient("Cannot reach the SMTP server \(configuration.host):\(configuration.port): \(error)")
        }
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            var pending = ""
            func reply() async throws -> (Int, String) {
                var text = ""
                while true {
                    while let range = pending.range(of: "\r\n") {
                        let line = String(pending[..<range.lowerBound])
                        pending.removeSubrange(..<range.upperBound)
                        text += line + "\n"
                        let chars = Array(line)
                        if chars.count >= 3, let code = Int(String(chars[0..<3])), chars.count == 3 || chars[3] == " " { return (code, text) }
                    }
                    guard var buffer = try await lines.next() else { throw DeliveryError.transient("The SMTP server closed the connection") }
                    pending += buffer.readString(length: buffer.readableBytes) ?? ""
                    if pending.utf8.count > 64 * 1024 { throw DeliveryError.permanent("The SMTP server sent an oversized reply") }
                }
            }
            func expect(_ wanted: ClosedRange<Int>, after command: String?) async throws {
                if let command { try await outbound.write(ByteBuffer(string: command + "\r\n")) }
                let (code, text) = try await reply()
                guard wanted.contains(code) else {
                    let what = "\(command.map { $0.split(separator: ":").first.map(String.init) ?? $0 } ?? "greeting"): \(text.trimmingCharacters(in: .whitespacesAndNewlines))"
                    throw code >= 500 ? DeliveryError.permanent("SMTP refused \(what)") : DeliveryError.transient("SMTP \(what)")
                }
            }
            try await expect(220...220, after: nil)
            try await expect(250...250, after: "EHLO hourglass.local")
            try await expect(250...250, after: "MAIL FROM:<\(Self.address(in: configuration.from))>")
            try await expect(250...251, after: "RCPT TO:<\(recipient)>")
            try await expect(354...354, after: "DATA")
            try await expect(250...250, after: Self.dotStuffed(message) + "\r\n.")
            try? await outbound.write(ByteBuffer(string: "QUIT\r\n"))
        }
    }

    static func isAddress(_ text: String) -> Bool {
        text.range(of: #"^[^@\s<>"]+@[^@\s<>"]+$"#, options: .regularExpression) != nil && text.count <= 254
    }

    /// "Hourglass <h@example.org>" → "h@example.org".
    static func address(in from: String) -> String {
        guard let open = from.lastIndex(of: "<"), let close = from.lastIndex(of: ">"), open < close else { return from }
        return String(from[from.index(after: open)..<close])
    }

    static func dotStuffed(_ message: String) -> String {
        message.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
    }

    /// A MIME message with plain-text and HTML parts (base64, so any text is safe), a Message-ID
    /// derived from the idempotency key, and one-click unsubscribe headers (RFC 8058).
    static func message(from: String, to: String, subject: String, text: String, html: String, key: String, unsubscribe: String, date: Date) -> String {
        let digest = SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
        let boundary = "hourglass-" + digest.prefix(24)
        let messageID = String(digest.prefix(32))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .gmt
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        func base64(_ s: String) -> String {
            let encoded = Data(s.utf8).base64EncodedString()
            return stride(from: 0, to: encoded.count, by: 76).map { start in
                let a = encoded.index(encoded.startIndex, offsetBy: start)
                return String(encoded[a..<encoded.index(a, offsetBy: min(76, encoded.count - start))])
            }.joined(separator: "\r\n")
        }
        let headers = [
            "From: \(from)", "To: <\(to)>", "Subject: \(encodedWord(subject))", "Date: \(formatter.string(from: date))",
            "Message-ID: <\(messageID)@hourglass>", "MIME-Version: 1.0", "Auto-Submitted: auto-generated",
            "List-Unsubscribe: <\(unsubscribe)>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        return (headers + ["", "--\(boundary)", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", base64(text),
                           "--\(boundary)", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "", base64(html),
                           "--\(boundary)--", ""]).joined(separator: "\r\n")
    }

    /// RFC 2047 encoded word for a header with non-ASCII text (or control characters, which are dropped).
    static func encodedWord(_ text: String) -> String {
        let clean = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init)).prefix(200)
        guard clean.unicodeScalars.contains(where: { !$0.isASCII }) else { return String(clean) }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }
}

/// Runs `body`, failing with a transient error when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeliveryError.transient("No answer within \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Checks webhook addresses against server-side request forgery: http(s) only, and no loopback,
/// private, link-local or other internal address unless the administrator allowed them.
enum WebhookAddress {
    static func validate(_ text: String, allowPrivate: Bool) async throws -> URL {
        guard text.count <= 2000, let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil else {
            throw DeliveryError.permanent("\"\(text.prefix(80))\" is not an http(s) URL")
        }
        if allowPrivate { return url }
        let addresses = try await resolve(host)
        guard !addresses.isEmpty else { throw DeliveryError.transient("\(host) does not resolve") }
        if let inner = addresses.first(where: isInternal) {
            throw DeliveryError.permanent("\(host) points at an internal address (\(inner)); an administrator can allow that with --allow-private-webhooks")
        }
        return url
    }

    static func resolve(_ host: String) async throws -> [String] {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(bare, nil, &hints, &result) == 0, let first = result else { return [] }
            defer { freeaddrinfo(first) }
            var out: [String] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    out.append(String(cString: buffer))
                }
                cursor = info.pointee.ai_next
            }
            return out
        }
    }

    /// Loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT, multicast, unspecified.
    static func isInternal(_ address: String) -> Bool {
        let lower = address.lowercased()
        if lower.contains(":") {
            if lower.hasPrefix("::ffff:"), lower.split(separator: ":").last?.contains(".") == true {
                return isInternal(String(lower.split(separator: ":").last!))
            }
            return lower == "::1" || lower == "::" || lower.hasPrefix("fe8") || lower.hasPrefix("fe9") || lower.hasPrefix("fea")
                || lower.hasPrefix("feb") || lower.hasPrefix("fc") || lower.hasPrefix("fd") || lower.hasPrefix("ff")
        }
        let octets = address.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return true }
        let (a, b) = (octets[0], octets[1])
        return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
            || (a == 100 && (64...127).contains(b)) || a >= 224
    }
}

/// Posts webhook payloads: no redirects followed, short timeouts, any non-2xx a failure.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let allowPrivate: Bool
    var timeout: TimeAmount = .seconds(10)

    static let signatureHeader = "X-Hourglass-Signature"

    func send(url text: String, body: String, secret: String?) async throws {
        let url = try await WebhookAddress.validate(text, allowPrivate: allowPrivate)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Hourglass-Webhook/1")
        if let secret {
            let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            request.headers.add(name: Self.signatureHeader, value: "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        }
        request.body = .bytes(ByteBuffer(string: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw DeliveryError.transient("The webhook did not answer: \(error)")
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        switch response.status.code {
        case 200..<300: return
        case 300..<400: throw DeliveryError.permanent("The webhook answered \(response.status.code) (redirects are not followed)")
        case 400..<500 where response.status.code != 408 && response.status.code != 429:
            throw DeliveryError.permanent("The webhook refused the call: \(response.status.code)")
        default: throw DeliveryError.transient("The webhook answered \(response.status.code)")
        }
    }
}
