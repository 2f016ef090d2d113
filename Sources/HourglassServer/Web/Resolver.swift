import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

/// Finds series and meetings named in a path, always inside the space the access check resolved,
/// so an id or date from another space is simply not found.
struct Resolver: Sendable {
    let store: any HourglassStore

    func series(_ context: AppRequestContext) async throws -> Series {
        let access = try context.requireAccess()
        guard let slug = context.parameters.get("series"), let series = try await store.series(spaceID: access.space.id, slug: slug) else {
            throw AppError.notFound("No such series")
        }
        return series
    }

    func board(_ context: AppRequestContext) async throws -> (Series, Board) {
        let access = try context.requireAccess()
        let series = try await series(context)
        guard let raw = context.parameters.get("date"), let date = LocalDate(raw),
              let meeting = try await store.meeting(spaceID: access.space.id, seriesID: series.id, date: date),
              let board = try await store.board(spaceID: access.space.id, meetingID: meeting.id) else {
            throw AppError.notFound("No such meeting")
        }
        return (series, board)
    }

    /// The actor for a command, or an error when the caller may not take part.
    func actor(_ context: AppRequestContext) throws -> Actor {
        let access = try context.requireAccess()
        let user = try context.requireUser()
        guard access.canParticipate(signedIn: true) else { throw AppError(.forbidden, "Only members of this space can take part") }
        return Actor(userID: user.id, name: user.name, canFacilitate: access.canFacilitate)
    }
}

/// Paths of things, in one place.
enum Paths {
    static func space(_ slug: String) -> String { "/s/\(slug)" }
    static func series(_ space: String, _ series: String) -> String { "/s/\(space)/\(series)" }
    static func meeting(_ space: String, _ series: String, _ date: LocalDate) -> String { "/s/\(space)/\(series)/\(date)" }
    static func topic(_ space: String, _ topic: UUID) -> String { "/s/\(space)/topics/\(topic.uuidString.lowercased())" }
    static func person(_ space: String, _ name: String) -> String {
        "/s/\(space)/people/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? "")
    }
    static func apiMeeting(_ space: String, _ series: String, _ date: LocalDate) -> String {
        "/api/spaces/\(space)/series/\(series)/meetings/\(date)"
    }
}

extension Response {
    /// 303 See Other: after a form post, the browser GETs the page again.
    static func seeOther(_ location: String, cookie: Cookie? = nil) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        if let cookie { response.setCookie(cookie) }
        return response
    }
}
