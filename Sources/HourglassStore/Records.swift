import Foundation
import GRDB
import HourglassCore

/// Storage conventions shared by every record: snake_case columns, UUIDs as lowercase text,
/// dates as exact seconds since 1970 (so a stored deadline reads back identical).
public protocol StoredRecord: Codable, FetchableRecord, PersistableRecord {}

extension StoredRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .custom(propertyKey) }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
    public static func databaseUUIDEncodingStrategy(for column: String) -> DatabaseUUIDEncodingStrategy { .lowercaseString }
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy { .timeIntervalSince1970 }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy { .timeIntervalSince1970 }
    public static func databaseJSONEncoder(for column: String) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
    public static func databaseJSONDecoder(for column: String) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }
}

/// "space_id" → "spaceID", "time_box_minutes" → "timeBoxMinutes": the inverse of `.convertToSnakeCase`
/// for this code base's property names, where "id" is always written "ID".
func propertyKey(_ column: String) -> any CodingKey {
    let parts = column.split(separator: "_")
    let name = parts.enumerated().map { index, part in
        if index == 0 { return String(part) }
        return part == "id" ? "ID" : part.prefix(1).uppercased() + part.dropFirst()
    }.joined()
    return AnyCodingKey(name)
}

struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension User: StoredRecord { public static let databaseTableName = "users" }
extension Space: StoredRecord { public static let databaseTableName = "spaces" }
extension Membership: StoredRecord { public static let databaseTableName = "memberships" }
extension Series: StoredRecord { public static let databaseTableName = "series" }
extension Meeting: StoredRecord { public static let databaseTableName = "meetings" }
extension Topic: StoredRecord { public static let databaseTableName = "topics" }

extension VoteRow: StoredRecord { public static let databaseTableName = "votes" }
extension BulletRow: StoredRecord { public static let databaseTableName = "bullets" }
extension NoteOpRow: StoredRecord { public static let databaseTableName = "note_ops" }
extension NotesHead: StoredRecord { public static let databaseTableName = "notes_heads" }

extension LocalDate: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { description.databaseValue }
    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> LocalDate? {
        String.fromDatabaseValue(dbValue).flatMap(LocalDate.init)
    }
}
