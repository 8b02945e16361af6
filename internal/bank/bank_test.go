package bank

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestABAChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok/fortis-sandbox", "072000326", true},
		{"ok/paysafe-sample", "211589828", true},
		{"ok/federal-reserve", "011000015", true},
		{"fail/paysafe-sample-checksum", "123456789", false},
		{"fail/fortis-seed-checksum", "100020200", false},
		{"fail/one-digit-off", "072000327", false},
		{"fail/short", "07200032", false},
		{"fail/long", "0720003260", false},
		{"fail/letter", "07200032A", false},
		{"fail/space", "072 00326", false},
		{"fail/empty", "", false},
		{"fail/unicode-digit", "07200032٦", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ABAChecksum(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestRoutingFormat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok", "072000326", true},
		{"ok/bad-checksum", "123456789", true},
		{"ok/fortis-seed", "100020200", true},
		{"fail/short", "12345678", false},
		{"fail/long", "1234567890", false},
		{"fail/dash", "1234-5678", false},
		{"fail/empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, RoutingFormat(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestSortCode(t *testing.T) {
	type result struct {
		Code string
		OK   bool
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"ok", "207405", result{"207405", true}},
		{"ok/dashes", "20-74-05", result{"207405", true}},
		{"ok/spaces", "20 74 05", result{"207405", true}},
		{"ok/mixed-separators", " 20- 74 -05 ", result{"207405", true}},
		{"fail/short", "20745", result{}},
		{"fail/long", "2074051", result{}},
		{"fail/letter", "20-74-0A", result{}},
		{"fail/other-separator", "20.74.05", result{}},
		{"fail/tab", "20\t7405", result{}},
		{"fail/empty", "", result{}},
		{"fail/separators-only", "- -", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Code, got.OK = SortCode(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestTransitInstitution(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		transit     bool
		institution bool
	}{
		{"ok/transit", "25039", true, false},
		{"ok/institution", "001", false, true},
		{"fail/four-digits", "1234", false, false},
		{"fail/six-digits", "123456", false, false},
		{"fail/letters", "ABCDE", false, false},
		{"fail/letter-in-institution", "00A", false, false},
		{"fail/empty", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := [2]bool{Transit(tt.in), Institution(tt.in)}
			if d := cmp.Diff([2]bool{tt.transit, tt.institution}, got); d != "" {
				t.Errorf("[Transit Institution] (-want +got)\n%s", d)
			}
		})
	}
}

func TestAccountNumber(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		min, max int
		want     bool
	}{
		{"ok/ach", "700953657", 4, 17, true},
		{"ok/min", "1234", 4, 17, true},
		{"ok/max", "12345678901234567", 4, 17, true},
		{"ok/bacs", "31926819", 4, 10, true},
		{"fail/too-short", "123", 4, 17, false},
		{"fail/too-long", "123456789012345678", 4, 17, false},
		{"fail/letter", "12345A", 4, 17, false},
		{"fail/dash", "1234-5678", 4, 17, false},
		{"fail/empty-with-zero-min", "", 0, 17, false},
		{"fail/min-above-max", "12345", 6, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, AccountNumber(tt.in, tt.min, tt.max)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestValidBIC(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok", "ABNANL2A", true},
		{"ok/branch", "DEUTDEFF500", true},
		{"ok/lower-case", "abnanl2a", true},
		{"ok/digits-in-suffix", "NWBKGB2L", true},
		{"ok/kosovo", "RBKOXKPR", true},
		{"fail/unknown-country", "ABNAZZ2A", false},
		{"fail/reserved-country-uk", "NWBKUK2L", false},
		{"fail/digit-in-prefix", "AB1ANL2A", false},
		{"fail/digit-in-country", "ABNAN12A", false},
		{"fail/seven", "ABNANL2", false},
		{"fail/nine", "ABNANL2AX", false},
		{"fail/ten", "ABNANL2AXX", false},
		{"fail/twelve", "DEUTDEFF5000", false},
		{"fail/space", "ABNA NL2A", false},
		{"fail/symbol-in-branch", "DEUTDEFF50-", false},
		{"fail/empty", "", false},
		{"fail/unicode-upper-cases-to-ascii", "ABNANL2ſ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ValidBIC(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// registryExamples returns the "IBAN electronic format example" row of the SWIFT IBAN
// Registry, release 100: one valid IBAN for every country.
func registryExamples() []string {
	return []string{
		"AD1200012030200359100100",          // Andorra
		"AE070331234567890123456",           // United Arab Emirates (The)
		"AL47212110090000000235698741",      // Albania
		"AT611904300234573201",              // Austria
		"AZ21NABZ00000000137010001944",      // Azerbaijan
		"BA391290079401028494",              // Bosnia and Herzegovina
		"BE68539007547034",                  // Belgium
		"BG80BNBG96611020345678",            // Bulgaria
		"BH67BMAG00001299123456",            // Bahrain
		"BI4210000100010000332045181",       // Burundi
		"BR1800360305000010009795493C1",     // Brazil
		"BY13NBRB3600900000002Z00AB00",      // Belarus
		"CH9300762011623852957",             // Switzerland
		"CR05015202001026284066",            // Costa Rica
		"CY17002001280000001200527600",      // Cyprus
		"CZ6508000000192000145399",          // Czechia
		"DE89370400440532013000",            // Germany
		"DJ2100010000000154000100186",       // Djibouti
		"DK5000400440116243",                // Denmark
		"DO28BAGR00000001212453611324",      // Dominican Republic
		"EE382200221020145685",              // Estonia
		"EG380019000500000000263180002",     // Egypt
		"ES9121000418450200051332",          // Spain
		"FI2112345600000785",                // Finland
		"FK88SC123456789012",                // Falkland Islands (Malvinas)
		"FO6264600001631634",                // Faroe Islands
		"FR1420041010050500013M02606",       // France
		"GB29NWBK60161331926819",            // United Kingdom
		"GE29NB0000000101904917",            // Georgia
		"GI75NWBK000000007099453",           // Gibraltar
		"GL8964710001000206",                // Greenland
		"GR1601101250000000012300695",       // Greece
		"GT82TRAJ01020000001210029690",      // Guatemala
		"HN88CABF00000000000250005469",      // Honduras
		"HR1210010051863000160",             // Croatia
		"HU42117730161111101800000000",      // Hungary
		"IE29AIBK93115212345678",            // Ireland
		"IL620108000000099999999",           // Israel
		"IQ98NBIQ850123456789012",           // Iraq
		"IS140159260076545510730339",        // Iceland
		"IT60X0542811101000000123456",       // Italy
		"JO94CBJO0010000000000131000302",    // Jordan
		"KW81CBKU0000000000001234560101",    // Kuwait
		"KZ86125KZT5004100100",              // Kazakhstan
		"LB62099900000001001901229114",      // Lebanon
		"LC55HEMM000100010012001200023015",  // Saint Lucia
		"LI21088100002324013AA",             // Liechtenstein
		"LT121000011101001000",              // Lithuania
		"LU280019400644750000",              // Luxembourg
		"LV80BANK0000435195001",             // Latvia
		"LY83002048000020100120361",         // Libya
		"MC5811222000010123456789030",       // Monaco
		"MD24AG000225100013104168",          // Moldova, Republic of
		"ME25505000012345678951",            // Montenegro
		"MK07250120000058984",               // North Macedonia
		"MN121234123456789123",              // Mongolia
		"MR1300020001010000123456753",       // Mauritania
		"MT84MALT011000012345MTLCAST001S",   // Malta
		"MU17BOMM0101101030300200000MUR",    // Mauritius
		"NI45BAPR00000013000003558124",      // Nicaragua
		"NL91ABNA0417164300",                // Netherlands (The)
		"NO9386011117947",                   // Norway
		"OM810180000001299123456",           // Oman
		"PK36SCBL0000001123456702",          // Pakistan
		"PL61109010140000071219812874",      // Poland
		"PS92PALS000000000400123456702",     // Palestine, State of
		"PT50000201231234567890154",         // Portugal
		"QA58DOHB00001234567890ABCDEFG",     // Qatar
		"RO49AAAA1B31007593840000",          // Romania
		"RS35260005601001611379",            // Serbia
		"RU0304452522540817810538091310419", // Russian Federation
		"SA0380000000608010167519",          // Saudi Arabia
		"SC18SSCB11010000000000001497USD",   // Seychelles
		"SD2129010501234001",                // Sudan
		"SE4550000000058398257466",          // Sweden
		"SI56263300012039086",               // Slovenia
		"SK3112000000198742637541",          // Slovakia
		"SM86U0322509800000000270100",       // San Marino
		"SO211000001001000100141",           // Somalia
		"ST23000100010051845310146",         // Sao Tome and Principe
		"SV62CENR00000000000000700025",      // El Salvador
		"TL380080012345678910157",           // Timor-Leste
		"TN5910006035183598478831",          // Tunisia
		"TR330006100519786457841326",        // Turkiye
		"UA213223130000026007233566001",     // Ukraine
		"VA59001123000012345678",            // Holy See
		"VG96VPVG0000012345678901",          // Virgin Islands (British)
		"XK051212012345678906",              // Kosovo
		"YE15CBYE0001018861234567891234",    // Yemen
	}
}

func TestValidIBANRegistryExamples(t *testing.T) {
	if d := cmp.Diff(89, len(registryExamples())); d != "" {
		t.Errorf("number of registry countries (-want +got)\n%s", d)
	}
	for _, iban := range registryExamples() {
		t.Run("ok/"+iban[:2], func(t *testing.T) {
			if !ValidIBAN(iban) {
				t.Errorf("ValidIBAN(%q) = false", iban)
			}
			if d := cmp.Diff(len(iban), ibanLength(iban[:2])); d != "" {
				t.Errorf("registry length (-want +got)\n%s", d)
			}
		})
	}
}

func TestValidIBAN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"ok/de", "DE89370400440532013000", true},
		{"ok/gb", "GB29NWBK60161331926819", true},
		{"ok/tn", "TN5914207207100707129648", true},
		{"ok/lb", "LB62099900000001001901229114", true},
		{"ok/no-shortest", "NO9386011117947", true},
		{"ok/ru-longest", "RU0304452522540817810538091310419", true},
		{"fail/checksum", "DE89370400440532013001", false},
		{"fail/swapped-digits", "DE89370400440532010300", false},
		{"ok/check-digits-98", "DE98370400440000000042", true},
		{"ok/check-digits-02", "DE02370400440000000024", true},
		{"fail/check-digits-01-that-pass-mod-97", "DE01370400440000000042", false},
		{"fail/check-digits-99-that-pass-mod-97", "DE99370400440000000024", false},
		{"fail/check-digits-99", "GB99NWBK60161331926819", false},
		{"fail/check-digits-00", "DE00370400440532013000", false},
		{"fail/too-long-for-country", "DE893704004405320130000", false},
		{"fail/too-short-for-country", "DE8937040044053201300", false},
		{"fail/unknown-country", "ZZ89370400440532013000", false},
		{"fail/us-not-in-registry", "US64SVBKUS6S3300958879", false},
		{"fail/not-normalised-lower-case", "de89370400440532013000", false},
		{"fail/not-normalised-spaces", "DE89 3704 0044 0532 0130 00", false},
		{"fail/letter-check-digits", "DEAB370400440532013000", false},
		{"fail/symbol", "DE89370400440532013-00", false},
		{"fail/empty", "", false},
		{"fail/country-only", "DE", false},
		{"fail/four", "DE89", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, ValidIBAN(tt.in)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestNormalizeIBAN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ok", "DE89370400440532013000", "DE89370400440532013000"},
		{"ok/print-format", "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"},
		{"ok/lower-case", "gb29 nwbk 6016 1331 9268 19", "GB29NWBK60161331926819"},
		{"ok/empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizeIBAN(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestMaskIBAN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ok", "DE89370400440532013000", "DE89**************3000"},
		{"ok/tn", "TN5914207207100707129648", "TN59****************9648"},
		{"ok/nine", "123456789", "1234*6789"},
		{"ok/eight-masked-whole", "12345678", "********"},
		{"ok/short-masked-whole", "DE8", "***"},
		{"ok/empty", "", ""},
		{"ok/multibyte", "ÄÖÜ1234567ÄÖÜß", "ÄÖÜ1******ÄÖÜß"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MaskIBAN(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func BenchmarkValidIBAN(b *testing.B) {
	for b.Loop() {
		ValidIBAN("FR1420041010050500013M02606")
	}
}

func BenchmarkABAChecksum(b *testing.B) {
	for b.Loop() {
		ABAChecksum("072000326")
	}
}

func BenchmarkValidBIC(b *testing.B) {
	for b.Loop() {
		ValidBIC("DEUTDEFF500")
	}
}
