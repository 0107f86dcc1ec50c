// Package classifier decides which topics a news article is about.
//
// It holds the domain of artclass: labelled samples and the reader for their
// JSONL files, the tokeniser and TF-IDF features built on
// github.com/james-bowman/nlp, one calibrated topic model per label, the
// compiled scorer that serves them, model files, and evaluation. It imports no
// transport code: the gRPC server and the CLI adapt it.
//
// A Model is trained once from samples (Train), written to and read from a
// self-describing binary file (Model.WriteFile, LoadFile), and then answers
// Classify calls concurrently without allocating in proportion to its
// vocabulary.
package classifier
