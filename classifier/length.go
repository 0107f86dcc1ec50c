package classifier

import "strings"

// LongArticleWords is the word count (title and text, split on white space)
// from which evaluation counts an article as long: a full article rather
// than a headline and a summary.
const LongArticleWords = 300

// WordCount returns the number of white-space separated words in an
// article's title and text.
func WordCount(title, text string) int {
	return len(strings.Fields(title)) + len(strings.Fields(text))
}

// SplitByLength splits samples into those under minWords words and those
// of minWords or more, each in their original order.
func SplitByLength(samples []Sample, minWords int) (short, long []Sample) {
	for _, s := range samples {
		if WordCount(s.Title, s.Text) >= minWords {
			long = append(long, s)
		} else {
			short = append(short, s)
		}
	}
	return short, long
}

// LengthReport is a model's quality on a labelled set, overall and on its
// short and long articles apart.
type LengthReport struct {
	// MinWords is the word count from which an article is long.
	MinWords int    `json:"min_words"`
	All      Report `json:"all"`
	Short    Report `json:"short"`
	Long     Report `json:"long"`
}

// EvaluateByLength evaluates m on samples, and on their short and long
// articles apart (see SplitByLength). Each sample is classified once.
func EvaluateByLength(m *Model, samples []Sample, minWords int) LengthReport {
	return ScoreByLength(m.meta.Labels, samples, classifyAll(m, samples), minWords)
}
