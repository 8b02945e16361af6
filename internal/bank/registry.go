package bank

// ibanLength returns the length of an IBAN whose country code is cc, or 0 if cc is not in the
// registry. cc must be upper-case.
//
// Source: SWIFT IBAN Registry, release 100 (2025), the "IBAN prefix country code" and
// "IBAN length" rows, 89 countries. Territories that the registry folds into another country
// (for example GF, GP, MQ and RE into FR; IM, JE and GG into GB; AX into FI) use that
// country's prefix, so they have no entry of their own.
func ibanLength(cc string) int {
	switch cc {
	case "AD": // Andorra
		return 24
	case "AE": // United Arab Emirates (The)
		return 23
	case "AL": // Albania
		return 28
	case "AT": // Austria
		return 20
	case "AZ": // Azerbaijan
		return 28
	case "BA": // Bosnia and Herzegovina
		return 20
	case "BE": // Belgium
		return 16
	case "BG": // Bulgaria
		return 22
	case "BH": // Bahrain
		return 22
	case "BI": // Burundi
		return 27
	case "BR": // Brazil
		return 29
	case "BY": // Belarus
		return 28
	case "CH": // Switzerland
		return 21
	case "CR": // Costa Rica
		return 22
	case "CY": // Cyprus
		return 28
	case "CZ": // Czechia
		return 24
	case "DE": // Germany
		return 22
	case "DJ": // Djibouti
		return 27
	case "DK": // Denmark
		return 18
	case "DO": // Dominican Republic
		return 28
	case "EE": // Estonia
		return 20
	case "EG": // Egypt
		return 29
	case "ES": // Spain
		return 24
	case "FI": // Finland
		return 18
	case "FK": // Falkland Islands (Malvinas)
		return 18
	case "FO": // Faroe Islands
		return 18
	case "FR": // France
		return 27
	case "GB": // United Kingdom
		return 22
	case "GE": // Georgia
		return 22
	case "GI": // Gibraltar
		return 23
	case "GL": // Greenland
		return 18
	case "GR": // Greece
		return 27
	case "GT": // Guatemala
		return 28
	case "HN": // Honduras
		return 28
	case "HR": // Croatia
		return 21
	case "HU": // Hungary
		return 28
	case "IE": // Ireland
		return 22
	case "IL": // Israel
		return 23
	case "IQ": // Iraq
		return 23
	case "IS": // Iceland
		return 26
	case "IT": // Italy
		return 27
	case "JO": // Jordan
		return 30
	case "KW": // Kuwait
		return 30
	case "KZ": // Kazakhstan
		return 20
	case "LB": // Lebanon
		return 28
	case "LC": // Saint Lucia
		return 32
	case "LI": // Liechtenstein
		return 21
	case "LT": // Lithuania
		return 20
	case "LU": // Luxembourg
		return 20
	case "LV": // Latvia
		return 21
	case "LY": // Libya
		return 25
	case "MC": // Monaco
		return 27
	case "MD": // Moldova, Republic of
		return 24
	case "ME": // Montenegro
		return 22
	case "MK": // North Macedonia
		return 19
	case "MN": // Mongolia
		return 20
	case "MR": // Mauritania
		return 27
	case "MT": // Malta
		return 31
	case "MU": // Mauritius
		return 30
	case "NI": // Nicaragua
		return 28
	case "NL": // Netherlands (The)
		return 18
	case "NO": // Norway
		return 15
	case "OM": // Oman
		return 23
	case "PK": // Pakistan
		return 24
	case "PL": // Poland
		return 28
	case "PS": // Palestine, State of
		return 29
	case "PT": // Portugal
		return 25
	case "QA": // Qatar
		return 29
	case "RO": // Romania
		return 24
	case "RS": // Serbia
		return 22
	case "RU": // Russian Federation
		return 33
	case "SA": // Saudi Arabia
		return 24
	case "SC": // Seychelles
		return 31
	case "SD": // Sudan
		return 18
	case "SE": // Sweden
		return 24
	case "SI": // Slovenia
		return 19
	case "SK": // Slovakia
		return 24
	case "SM": // San Marino
		return 27
	case "SO": // Somalia
		return 23
	case "ST": // Sao Tome and Principe
		return 25
	case "SV": // El Salvador
		return 28
	case "TL": // Timor-Leste
		return 23
	case "TN": // Tunisia
		return 24
	case "TR": // Turkiye
		return 26
	case "UA": // Ukraine
		return 29
	case "VA": // Holy See
		return 22
	case "VG": // Virgin Islands (British)
		return 24
	case "XK": // Kosovo
		return 20
	case "YE": // Yemen
		return 30
	}
	return 0
}
