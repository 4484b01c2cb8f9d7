// Package me is the person's side of Coffre: it signs in the people whose records Coffre holds
// (subjects), so that they can see their own history under /v1/me: a
// one-time code sent to a contact address on their record, or an OpenID
// Connect provider. A person's session names a subject, never an
// operator, and reaches only that subject's own routes.
//
// # One-time codes
//
// [Service.RequestCode] takes an email address or a phone number and
// always answers the same way, whether or not it is on a record: a login
// token. When the contact is on a record (an exact match through the
// blind index of the schema's lookup fields of that type), a random code
// is queued, sealed, as a message to the subject on the person channel
// (package outbox), in the transaction that stores the code's keyed hash;
// the delivery worker resolves the address from the record when it sends.
// [Service.VerifyCode] exchanges the login token and the code for a
// session. Codes expire, their attempts are bounded, and a contact whose
// attempts are used up is locked for a while; code requests are limited
// per contact (in the store, for every node) and per origin (in memory,
// per node).
//
// Every step is audited, as an access by the person when it names one: a
// code asked for a contact on a record names that subject, so that it is
// in their history; one that matched nobody names a keyed pseudonym of the
// contact. Neither the contact nor the code is ever written, logged or
// returned in an error.
//
// # Storage
//
// Codes, contact limits and sessions are kept through subjectauth.Store,
// which store.Tx embeds.
package me
