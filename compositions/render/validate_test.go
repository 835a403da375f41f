package render

import "testing"

func TestValidateSpec(t *testing.T) {
	schema := `schema:
  spec:
    type: object
    required: [owner]
    properties:
      owner: {type: string}
      region: {type: string}
      size: {type: integer, default: 10}
      db:
        type: object
        default: {}
        required: [version]
        properties:
          version: {type: string, default: "16"}
`
	c := compile(t, schema+bucketAndDatabase)
	cases := map[string]struct {
		reason string
		spec   string
		want   string
	}{
		"Valid":           {reason: "Defaults fill what is missing.", spec: "owner: team", want: ""},
		"RequiredMissing": {reason: "A required field without a default is missing.", spec: "size: 3", want: "spec.owner: required value"},
		"WrongType":       {reason: "A field of the wrong type.", spec: "owner: team\nsize: big", want: "spec.size: must be an integer, not a string"},
		"UnknownField":    {reason: "A field the schema does not declare.", spec: "owner: team\ncolor: red", want: `spec: unknown field "color"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.ValidateSpec(instance(t, tc.spec))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("%s\nValidateSpec(...): got %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}
