package classifier

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// foreignTexts are news-like paragraphs in other languages, written for this
// test: a model trained on English cannot judge them, though they name
// places and organisations it knows.
var foreignTexts = map[string]string{
	"french news": `Le gouvernement a annoncé mardi une nouvelle loi sur la protection des forêts, après des mois de débats au parlement. ` +
		`Les associations écologistes saluent une avancée mais regrettent que les mesures contre la pollution des rivières restent timides. ` +
		`Selon le ministre, les premières aides aux communes rurales seront versées dès le printemps prochain, et un rapport sera remis chaque année aux députés.`,
	"french election": `Les électeurs sont appelés aux urnes dimanche pour le second tour des élections municipales. Dans plusieurs grandes villes, ` +
		`les sondages donnent les deux listes au coude-à-coude, et la participation pourrait être la plus faible depuis vingt ans. ` +
		`Les bureaux de vote fermeront à vingt heures et les premiers résultats sont attendus dans la soirée.`,
	"german defence": `Die Bundesregierung will die Ausgaben für die Streitkräfte in den kommenden Jahren deutlich erhöhen. Der Verteidigungsminister ` +
		`sprach am Mittwoch von einer Zeitenwende und kündigte den Kauf neuer Flugzeuge und Panzer an. Kritiker im Bundestag bemängeln, ` +
		`dass die Beschaffung seit Jahren zu langsam sei und die Soldaten noch immer auf Ausrüstung warteten.`,
	"german climate": `Der Sommer war nach Angaben des Wetterdienstes einer der trockensten seit Beginn der Aufzeichnungen. Bauern klagen über ` +
		`Ernteausfälle, in vielen Wäldern ist die Brandgefahr hoch, und die Pegel der großen Flüsse sind so niedrig, dass Schiffe nur noch ` +
		`mit halber Ladung fahren können. Umweltverbände fordern einen schnelleren Ausstieg aus der Kohle.`,
	"spanish middle east": `El ministro de Asuntos Exteriores viajó el lunes a Oriente Próximo para reunirse con los líderes de Israel y de la Autoridad ` +
		`Palestina. Según fuentes diplomáticas, la visita busca reabrir las negociaciones y aliviar la situación humanitaria en Gaza, ` +
		`donde la población sufre desde hace meses la falta de agua, alimentos y medicinas.`,
}

// judgeable returns texts the default model should judge (English news: the
// corpus, and dev when present) and texts it cannot (other languages, Go
// code, random letters, stop words only).
func coverageTexts(t *testing.T) (english, foreign map[string]string) {
	t.Helper()
	english = map[string]string{}
	for _, p := range DefaultCorpus {
		samples, err := ReadSamplesFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range samples {
			english[p+":"+s.Title+":"+string(rune('0'+i%10))] = docText(s.Title, s.Text)
		}
	}
	if dev, err := ReadSamplesFile(filepath.Join(sharedData, "news", "dev.jsonl")); err == nil {
		for i, s := range dev {
			english["dev:"+s.Title+":"+string(rune('0'+i%10))] = docText(s.Title, s.Text)
		}
	}
	foreign = map[string]string{}
	for k, v := range foreignTexts {
		foreign[k] = v
	}
	for _, f := range []string{"sort/sort.go", "strings/builder.go", "net/http/client.go"} {
		if code, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", f)); err == nil {
			foreign["go code "+f] = string(code)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 5 {
		var b strings.Builder
		for range 120 {
			for range 2 + rng.IntN(8) {
				b.WriteByte(byte('a' + rng.IntN(26)))
			}
			b.WriteByte(' ')
		}
		foreign["random letters "+string(rune('0'+k))] = b.String()
	}
	foreign["stop words only"] = "It is what it is, and they were there before we were."
	return english, foreign
}

// TestCoverageSeparatesEnglishFromTheRest measures the default model's
// coverage on English news and on text it cannot judge, and checks that
// MinCoverage lies between them. Its log is where MinCoverage comes from.
func TestCoverageSeparatesEnglishFromTheRest(t *testing.T) {
	t.Parallel()
	m := mustDefault(t)
	english, foreign := coverageTexts(t)
	var shares []float64
	lowest, lowestName := 2.0, ""
	for name, text := range english {
		c := m.Classify("", text).Coverage
		shares = append(shares, c.Share())
		if c.Share() < lowest {
			lowest, lowestName = c.Share(), name
		}
		if c.Low() {
			t.Errorf("%s: coverage %d/%d = %.2f is low, want an English article judged", name, c.Known, c.Tokens, c.Share())
		}
	}
	slices.Sort(shares)
	t.Logf("English (%d texts): coverage min %.2f (%s), 1st percentile %.2f, median %.2f",
		len(shares), lowest, lowestName, shares[len(shares)/100], shares[len(shares)/2])
	for _, name := range slices.Sorted(maps.Keys(foreign)) {
		r := m.Classify("", foreign[name])
		t.Logf("%-28s coverage %4d/%4d = %.2f", name, r.Coverage.Known, r.Coverage.Tokens, r.Coverage.Share())
		if got := r.Labels(); len(got) != 0 {
			t.Errorf("%s: labels %v on text that is not news, want none", name, got)
		}
		if strings.HasPrefix(name, "go code") {
			continue // its comments are English: see MinCoverage
		}
		if r.Warning != WarningLowCoverage {
			t.Errorf("%s: coverage %.2f, warning %q; want %q", name, r.Coverage.Share(), r.Warning, WarningLowCoverage)
		}
	}
}

func TestWarningJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"no warning is left out", Result{Coverage: Coverage{Tokens: 10, Known: 9}}, `{"topics":null,"coverage":{"tokens":10,"known":9}}`},
		{"low coverage", Result{Coverage: Coverage{Tokens: 10, Known: 1}, Warning: WarningLowCoverage}, `{"topics":null,"coverage":{"tokens":10,"known":1},"warning":"low_coverage"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("JSON %s, want %s", got, tc.want)
			}
			var back Result
			if err := json.Unmarshal(got, &back); err != nil || back.Warning != tc.r.Warning || back.Coverage != tc.r.Coverage {
				t.Errorf("decoded %+v (%v), want %+v", back, err, tc.r)
			}
		})
	}
	var w Warning
	if err := w.UnmarshalText([]byte("loud")); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("UnmarshalText(loud) = %v, want an error naming it", err)
	}
	if _, err := Warning(7).MarshalText(); err == nil {
		t.Error("MarshalText(7) succeeded, want an error")
	}
}

func TestCoverageShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c     Coverage
		share float64
		low   bool
	}{
		{Coverage{}, 0, true},
		{Coverage{Tokens: 10, Known: 2}, 0.2, true},
		{Coverage{Tokens: 10, Known: 3}, 0.3, false},
		{Coverage{Tokens: 4, Known: 4}, 1, false},
	}
	for _, tc := range tests {
		if got := tc.c.Share(); got != tc.share || tc.c.Low() != tc.low {
			t.Errorf("%+v: share %v low %v, want %v and %v", tc.c, got, tc.c.Low(), tc.share, tc.low)
		}
	}
}
