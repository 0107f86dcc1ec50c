package classifier

// Thresholds returns each label's decision threshold: Classify assigns a
// label when its confidence reaches it. A threshold maximises the label's
// cross-validated F1, so a rare label's can be below 0.5 — an assigned
// label with a confidence under 0.5 is then the right call, not a bug.
func (m *Model) Thresholds() map[string]float64 {
	out := make(map[string]float64, len(m.cal))
	for i, c := range m.cal {
		out[m.meta.Labels[i]] = c.threshold
	}
	return out
}
