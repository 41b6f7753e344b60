package api

import "testing"

func TestMatchesTemplate(t *testing.T) {
	const fetch = "/v2/Services/:ServiceSid/AccessTokens/:Sid"
	for _, tc := range []struct {
		template, path string
		want           bool
	}{
		{fetch, "/v2/Services/VA1/AccessTokens/YK1", true},
		{fetch, "/v2/Services/VA1/AccessTokens/YK%2F1", true}, // an encoded slash is inside its segment
		{fetch, "/v2/Services/VA1/AccessTokens/YK1/", false},
		{fetch, "/v2/Services/VA1/AccessTokens/YK1/x", false},
		{fetch, "/v2/Services/VA1/AccessTokens/", false},
		{fetch, "/v2/Services//AccessTokens/YK1", false},
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services/VA1/AccessTokens", true},
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services/VA1/AccessTokens/", false},
		{fetch, "/v2/Services/VA1/AccessTokens", false}, // fewer segments
		{"", "/anything/at/all", true},                  // no route: echo answers 404
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services//AccessTokens", false},
	} {
		if got := matchesTemplate(tc.template, tc.path); got != tc.want {
			t.Errorf("matchesTemplate(%q, %q) = %v, want %v", tc.template, tc.path, got, tc.want)
		}
	}
}
