// Package seal is the encryption at rest both stores use: AES-256-GCM
// records bound to where they are stored, told apart by the key that
// sealed them, so that a key rotation can open the old ones while it
// seals them anew.
//
// A sealed value is
//
//	Magic ++ key id (4 bytes) ++ 12-byte random nonce ++ AES-256-GCM(value)
//
// where the key id is the start of the key's SHA-256, and the additional
// data is the record's place (a bucket or table and its key), so a record
// cannot be moved to another place unnoticed.
package seal
