// Package device simulates a phone running the Twilio Verify Push SDK, so
// that tests, and people, can enroll and use push factors without a phone.
//
// A [Device] holds a P-256 key and sends the requests the Android or iOS
// SDK sends, byte for byte where the bytes matter (see [Flavor]):
//
//   - [Device.Enroll] creates the push factor with the enrollment access
//     token, sending the public key as standard Base64 of its DER
//     SubjectPublicKeyInfo;
//   - [Device.Verify] proves the key with a DER ECDSA signature of the
//     factor SID, standard Base64;
//   - every later request authenticates with a fresh device JWT
//     ([Device.JWT]): ES256, the signature raw R‖S, base64url, the key named
//     by the factor's config.credential_sid;
//   - [Device.UpdatePushToken] and [Device.Unenroll] update and delete the
//     factor;
//   - [Device.Challenge] fetches a challenge, keeping its body and, while it
//     is pending, the Twilio-Verify-Signature-Fields header;
//     [Device.ListChallenges] and [Device.Challenges] list them;
//   - [Device.Approve] and [Device.Deny] answer one as the SDKs do: fetch,
//     refuse locally what they refuse, post an AuthPayload (a JWS over the
//     listed properties' values as fetched and the status, ES256, raw R‖S),
//     fetch again and check the status. [Device.AnswerFields],
//     [Device.SignPayload] and [Device.PostAnswer] build and send answers a
//     step at a time, so that tests can send tampered ones.
//
// As the SDKs do, a Device answers a 401 that carries a Date header by
// correcting its clock from it and retrying once. Every request has the
// form Content-Type, GETs included, and an Accept of JSON, or of the form
// type for GETs. A response other than 2xx is returned as a
// [*Error].
//
// A Device against a verifyd in a test:
//
//	d, err := device.New(device.WithBaseURL(srv.URL), device.WithFlavor(device.IOS))
//	if err != nil {
//		t.Fatal(err)
//	}
//	tok, err := client.CreateAccessToken(ctx, serviceSID, verify.CreateParams{Identity: id})
//	// handle err
//	f, err := d.Enroll(ctx, serviceSID, id, *tok.Token)
//	// handle err
//	f, err = d.Verify(ctx) // f.Status == "verified"
//
// [Device.Save] and [LoadFile] keep a Device in a file of mode 0600, so that
// a command-line tool can act as the same phone from one run to the next.
package device
