package seccomp

import (
	"encoding/json"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkCompileDockerDefault compiles Docker's default profile (the one
// the integration tests run containers under): what create and exec pay.
func BenchmarkCompileDockerDefault(b *testing.B) {
	data, err := os.ReadFile("../../tests/integration/testdata/seccomp-docker-default.json")
	if err != nil {
		b.Skip(err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		f, err := Compile(&p, familyOf("amd64"))
		if err != nil {
			b.Fatal(err)
		}
		n = len(f.Program)
	}
	b.ReportMetric(float64(n), "instructions")
}
