package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestFailNext(t *testing.T) {
	var inj Injector
	srv := httptest.NewServer(inj.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })))
	defer srv.Close()
	inj.FailNext(2, S3SlowDown)
	var got []int
	for range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
		resp.Body.Close()
	}
	want := []int{503, 503, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses = %v, want %v", got, want)
		}
	}
	if inj.Injected() != 2 {
		t.Errorf("Injected() = %d, want 2", inj.Injected())
	}
}
