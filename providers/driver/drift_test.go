package driver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDrifted(t *testing.T) {
	cases := []struct {
		reason   string
		value    string
		wantLen  int
		wantMark bool
	}{
		{reason: "a short value is kept", value: "Enabled", wantLen: 7},
		{reason: "a value at the limit is kept", value: strings.Repeat("a", MaxDriftValueLength), wantLen: MaxDriftValueLength},
		{reason: "a long value is cut and marked", value: strings.Repeat("a", 5000), wantLen: MaxDriftValueLength, wantMark: true},
		{reason: "a cut never splits a character", value: strings.Repeat("é", 1000), wantMark: true},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			d := Drifted("spec.labels", tc.value, tc.value)
			if tc.wantLen != 0 && len(d.Desired) != tc.wantLen {
				t.Errorf("len(Desired) = %d, want %d", len(d.Desired), tc.wantLen)
			}
			if len(d.Desired) > MaxDriftValueLength || !utf8.ValidString(d.Desired) {
				t.Errorf("Desired is %d bytes, valid UTF-8 %v: want at most %d, valid", len(d.Desired), utf8.ValidString(d.Desired), MaxDriftValueLength)
			}
			if got := strings.HasSuffix(d.Desired, "..."); got != tc.wantMark {
				t.Errorf("cut mark = %v, want %v", got, tc.wantMark)
			}
			if d.Desired != d.Observed || d.Field != "spec.labels" {
				t.Errorf("Drifted = %+v, want the same treatment of both values", d)
			}
		})
	}
}

func TestFormatLabels(t *testing.T) {
	if got := FormatLabels(nil); got != NoValue {
		t.Errorf("FormatLabels(nil) = %q, want %q", got, NoValue)
	}
	if got := FormatLabels(map[string]string{"team": "web", "env": "prod"}); got != "env=prod, team=web" {
		t.Errorf("FormatLabels = %q, want keys in order", got)
	}
}
