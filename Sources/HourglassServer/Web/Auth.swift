import Crypto
import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import HummingbirdBcrypt
import NIOPosix

/// Password hashing and session tokens. Tokens are random; only their SHA-256 is stored.
struct Authenticator: Sendable {
    static let cookieName = "hg_session"
    static let sessionLifetime: TimeInterval = 30 * 86400

    let store: any HourglassStore
    let bcryptCost: UInt8
    let secureCookies: Bool
    let now: @Sendable () -> Date

    /// A new random token, URL-safe.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// bcrypt is deliberately slow: run it off the event loops.
    static func hashPassword(_ password: String, cost: UInt8) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { !hash.isEmpty && Bcrypt.verify(password, hash: hash) }
    }

    /// Checks an email and password; the same error for an unknown email and a wrong password.
    func signIn(email: String, password: String) async throws -> User {
        let email = email.trimmingCharacters(in: .whitespaces).lowercased()
        guard let credentials = try await store.credentials(email: email),
              try await verify(password, hash: credentials.passwordHash) else {
            throw AppError(.unauthorized, "Wrong email or password")
        }
        return credentials.user
    }

    /// Opens a fresh session (a new id at every sign-in) and returns the cookie that carries it.
    func startSession(for user: User, replacing oldHash: String?) async throws -> Cookie {
        if let oldHash { try await store.deleteSession(tokenHash: oldHash) }
        let token = Self.newToken()
        let now = now()
        try await store.createSession(tokenHash: Self.hash(token: token), userID: user.id, expiresAt: now + Self.sessionLifetime, now: now)
        return Cookie(name: Self.cookieName, value: token, maxAge: Int(Self.sessionLifetime), path: "/",
                      secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    func endSession(hash: String?) async throws -> Cookie {
        if let hash { try await store.deleteSession(tokenHash: hash) }
        return Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// Validates sign-up fields and hashes the password.
    func newAccount(name: String, email: String, password: String) async throws -> (User, String) {
        try await Self.newAccount(name: name, email: email, password: password, cost: bcryptCost, now: now())
    }

    static func newAccount(name: String, email: String, password: String, cost: UInt8, now: Date) async throws -> (User, String) {
        let name = try Validate.text(name, field: "name", max: 80)
        let email = try Validate.email(email)
        let password = try Validate.password(password)
        return (User(email: email, name: name, createdAt: now), try await hashPassword(password, cost: cost))
    }
}

/// Reads the session cookie (or a bearer token) and sets `context.user`.
struct SessionMiddleware: RouterMiddleware {
    let store: any HourglassStore
    let now: @Sendable () -> Date

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        if let token = bearer ?? request.cookies[Authenticator.cookieName]?.value, !token.isEmpty, token.count < 200 {
            let hash = Authenticator.hash(token: token)
            if let user = try await store.user(sessionTokenHash: hash, now: now()) {
                context.user = user
                context.sessionTokenHash = hash
            }
        }
        return try await next(request, context)
    }
}

/// Resolves the `:space` path parameter once for every route under a space. A private space is
/// indistinguishable from a missing one for anyone outside it.
struct SpaceAccessMiddleware: RouterMiddleware {
    let store: any HourglassStore

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        guard let slug = context.parameters.get("space"), let space = try await store.space(slug: slug) else {
            throw AppError.notFound()
        }
        let membership: Membership? = if let user = context.user {
            try await store.membership(spaceID: space.id, userID: user.id)
        } else {
            nil
        }
        guard let access = SpaceAccess.resolve(space: space, user: context.user, membership: membership) else {
            throw AppError.notFound()
        }
        context.access = access
        return try await next(request, context)
    }
}

extension Request {
    /// Reads a form or JSON body into flat string fields (the shape every command and form uses).
    mutating func fields(context: AppRequestContext) async throws -> [String: String] {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        let bytes = Array(buffer.readableBytesView)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw AppError(.badRequest, "The body is not valid UTF-8")
        }
        if headers[.contentType]?.hasPrefix("application/json") == true {
            guard let data = text.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw AppError(.badRequest, "Malformed JSON: expected an object such as {\"type\": \"vote\", \"topicId\": \"…\"}")
            }
            var fields: [String: String] = [:]
            for (key, value) in object {
                switch value {
                case let string as String: fields[key] = string
                case let number as NSNumber where !(value is Bool): fields[key] = number.stringValue
                case is NSNull: continue
                default: throw AppError(.badRequest, "Malformed JSON: field \"\(key.prefix(40))\" must be a string")
                }
            }
            return fields
        }
        return FormFields.parse(text)
    }
}

/// `application/x-www-form-urlencoded` parsing.
enum FormFields {
    static func parse(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let key = decode(parts[0])
            guard !key.isEmpty else { continue }
            fields[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}

/// A local path to return to after signing in; anything else (other hosts, `//evil`) becomes "/".
func safeRedirectTarget(_ next: String?) -> String {
    guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), !next.contains("\r"), !next.contains("\n"),
          next.count < 500 else { return "/" }
    return next
}
