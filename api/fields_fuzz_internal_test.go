package api

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseChallengeFields feeds Details.Fields values to their parser.
// Whatever it accepts must be storable on both engines (valid UTF-8, no
// NUL, within the lengths) and must read back the same when a device
// re-encodes it; whatever it refuses is a Twilio error, never a panic.
func FuzzParseChallengeFields(f *testing.F) {
	for _, s := range []string{
		`{"label":"Amount","value":"10 EUR"}`,
		`{"label":"","value":""}`,
		`{"label":"a","value":"b","extra":1}`,
		`{"label":"a"}`,
		`{"label":"a","value":"b"} {}`,
		`{"label":"a\u0000","value":"b"}`,
		`{"label":"\ud800","value":"\xff"}`,
		`{"label":1,"value":"b"}`,
		`[]`, `null`, ``,
		`{"label":"` + strings.Repeat("é", maxChallengeFieldLabel+1) + `","value":"b"}`,
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		raw := []string{a, b}
		fields, err := parseChallengeFields(&raw)
		if err != nil {
			if fields != nil {
				t.Errorf("refused %q with fields %v", raw, fields)
			}
			return
		}
		if len(fields) != len(raw) {
			t.Fatalf("%q gave %d fields", raw, len(fields))
		}
		for _, fl := range fields {
			for _, s := range []string{fl.Label, fl.Value} {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
					t.Errorf("accepted %q, which PostgreSQL cannot store", s)
				}
			}
			if utf8.RuneCountInString(fl.Label) > maxChallengeFieldLabel || utf8.RuneCountInString(fl.Value) > maxChallengeFieldValue {
				t.Errorf("accepted a field past its length: %q", fl)
			}
			again, err := json.Marshal(map[string]string{"label": fl.Label, "value": fl.Value})
			if err != nil {
				t.Fatal(err)
			}
			back, err := parseChallengeFields(&[]string{string(again)})
			if err != nil || len(back) != 1 || back[0] != fl {
				t.Errorf("%s read back as %v, %v", again, back, err)
			}
		}
	})
}
