package sampleapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/okbreak/okbreak/internal/sample/sampleapi"
)

func TestReplyRoundTrip(t *testing.T) {
	want := sampleapi.Reply{Service: "backend", Instance: "backend-2"}
	got, err := sampleapi.ParseReply(sampleapi.NewReply(want))
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, "/okbreak.sample.v1.Sample/Hello", sampleapi.HelloMethod)
}

func TestParseReplyRejectsAnonymousAnswers(t *testing.T) {
	for _, s := range []*structpb.Struct{
		nil,
		{},
		sampleapi.NewReply(sampleapi.Reply{Service: "backend"}),
		{Fields: map[string]*structpb.Value{
			"service":  structpb.NewNumberValue(1),
			"instance": structpb.NewStringValue("i"),
		}},
	} {
		_, err := sampleapi.ParseReply(s)
		assert.Error(t, err, "%v", s)
	}
}
