package client_test

import (
	"context"
	"strings"
	"testing"
)

func BenchmarkCreateTransfersMinimal(b *testing.B) {
	for _, answer := range []struct{ name, body string }{
		{"minimal answer", `{"results":[` + strings.TrimSuffix(strings.Repeat(`{"id":123456},`, 1000), ",") + `]}`},
		{"full answer", fullBatchAnswer()}, // a server that ignores the preference
	} {
		b.Run(answer.name, func(b *testing.B) {
			c := canned(b, answer.body)
			req := benchBatch()
			for b.Loop() {
				if res, err := c.CreateTransfersMinimal(context.Background(), req); err != nil || len(res) != 1000 {
					b.Fatal(err)
				}
			}
		})
	}
}
