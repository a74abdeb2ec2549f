// Package classify tells what each line of a store file is for retention, by combining the
// ndjson scanner with pyjson's reading of a line's content. The file backends (jsonfile,
// rotating) build on it.
//
//   - [Line] classifies one [ndjson.Line]: pyjson's verdict on its content, except that an
//     oversize line and an unterminated one (a crash remnant) are not records.
//   - [Stream] reads a file and hands its lines to a callback in order, classified; its reader
//     only reads, and splitting blocks of whole lines and classifying them, the costly part,
//     run on every CPU.
//   - [Anomalies] reports a file's line anomalies with Papyra's names, for `papyrad scan`.
//   - [Apply] plans a whole store given as lines, for tests and small callers.
package classify
