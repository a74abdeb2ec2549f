package report

import (
	"errors"
	"testing"
	"time"
)

func TestFinish(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      Report
		err     error
		want    string
		wantErr string
	}{
		{"ok", Report{Result: ResultOK}, nil, ResultOK, ""},
		{"a replaced file pending", Report{Result: ResultOK, PendingFiles: 1}, nil, ResultPending, ""},
		{"failed with a file pending", Report{Result: ResultOK, PendingFiles: 1}, errors.New("boom"), ResultError, "boom"},
		{"skipped stays skipped", Report{Result: ResultSkipped}, errors.New("locked"), ResultSkipped, "locked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.in
			r.Finish(1500*time.Millisecond, tc.err)
			if r.Result != tc.want || r.Error != tc.wantErr || r.Duration != 1.5 {
				t.Errorf("Finish: result %q error %q duration %v, want %q %q 1.5", r.Result, r.Error, r.Duration, tc.want, tc.wantErr)
			}
		})
	}
}
