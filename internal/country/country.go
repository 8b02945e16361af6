// Package country holds the ISO 3166-1 country code table and answers questions about
// alpha-2 and alpha-3 codes. It has no I/O and no dependencies.
package country

// table lists every officially assigned ISO 3166-1 code, 249 entries of five bytes each: the
// alpha-2 code followed by the alpha-3 code, sorted by alpha-2.
//
// Source: ISO 3166-1 as published by the ISO Online Browsing Platform
// (https://www.iso.org/obp/ui/#search/code/), taken from the Debian iso-codes 4.15.0 data
// (iso_3166-1.json), which tracks it. The same codes appear in the Wikipedia article
// "ISO 3166-1". User-assigned codes such as XK (Kosovo) are not part of the standard and are
// not listed.
const table = "" +
	"ADAND" + // Andorra
	"AEARE" + // United Arab Emirates
	"AFAFG" + // Afghanistan
	"AGATG" + // Antigua and Barbuda
	"AIAIA" + // Anguilla
	"ALALB" + // Albania
	"AMARM" + // Armenia
	"AOAGO" + // Angola
	"AQATA" + // Antarctica
	"ARARG" + // Argentina
	"ASASM" + // American Samoa
	"ATAUT" + // Austria
	"AUAUS" + // Australia
	"AWABW" + // Aruba
	"AXALA" + // Åland Islands
	"AZAZE" + // Azerbaijan
	"BABIH" + // Bosnia and Herzegovina
	"BBBRB" + // Barbados
	"BDBGD" + // Bangladesh
	"BEBEL" + // Belgium
	"BFBFA" + // Burkina Faso
	"BGBGR" + // Bulgaria
	"BHBHR" + // Bahrain
	"BIBDI" + // Burundi
	"BJBEN" + // Benin
	"BLBLM" + // Saint Barthélemy
	"BMBMU" + // Bermuda
	"BNBRN" + // Brunei Darussalam
	"BOBOL" + // Bolivia
	"BQBES" + // Bonaire, Sint Eustatius and Saba
	"BRBRA" + // Brazil
	"BSBHS" + // Bahamas
	"BTBTN" + // Bhutan
	"BVBVT" + // Bouvet Island
	"BWBWA" + // Botswana
	"BYBLR" + // Belarus
	"BZBLZ" + // Belize
	"CACAN" + // Canada
	"CCCCK" + // Cocos (Keeling) Islands
	"CDCOD" + // Congo, The Democratic Republic of the
	"CFCAF" + // Central African Republic
	"CGCOG" + // Congo
	"CHCHE" + // Switzerland
	"CICIV" + // Côte d'Ivoire
	"CKCOK" + // Cook Islands
	"CLCHL" + // Chile
	"CMCMR" + // Cameroon
	"CNCHN" + // China
	"COCOL" + // Colombia
	"CRCRI" + // Costa Rica
	"CUCUB" + // Cuba
	"CVCPV" + // Cabo Verde
	"CWCUW" + // Curaçao
	"CXCXR" + // Christmas Island
	"CYCYP" + // Cyprus
	"CZCZE" + // Czechia
	"DEDEU" + // Germany
	"DJDJI" + // Djibouti
	"DKDNK" + // Denmark
	"DMDMA" + // Dominica
	"DODOM" + // Dominican Republic
	"DZDZA" + // Algeria
	"ECECU" + // Ecuador
	"EEEST" + // Estonia
	"EGEGY" + // Egypt
	"EHESH" + // Western Sahara
	"ERERI" + // Eritrea
	"ESESP" + // Spain
	"ETETH" + // Ethiopia
	"FIFIN" + // Finland
	"FJFJI" + // Fiji
	"FKFLK" + // Falkland Islands (Malvinas)
	"FMFSM" + // Micronesia, Federated States of
	"FOFRO" + // Faroe Islands
	"FRFRA" + // France
	"GAGAB" + // Gabon
	"GBGBR" + // United Kingdom
	"GDGRD" + // Grenada
	"GEGEO" + // Georgia
	"GFGUF" + // French Guiana
	"GGGGY" + // Guernsey
	"GHGHA" + // Ghana
	"GIGIB" + // Gibraltar
	"GLGRL" + // Greenland
	"GMGMB" + // Gambia
	"GNGIN" + // Guinea
	"GPGLP" + // Guadeloupe
	"GQGNQ" + // Equatorial Guinea
	"GRGRC" + // Greece
	"GSSGS" + // South Georgia and the South Sandwich Islands
	"GTGTM" + // Guatemala
	"GUGUM" + // Guam
	"GWGNB" + // Guinea-Bissau
	"GYGUY" + // Guyana
	"HKHKG" + // Hong Kong
	"HMHMD" + // Heard Island and McDonald Islands
	"HNHND" + // Honduras
	"HRHRV" + // Croatia
	"HTHTI" + // Haiti
	"HUHUN" + // Hungary
	"IDIDN" + // Indonesia
	"IEIRL" + // Ireland
	"ILISR" + // Israel
	"IMIMN" + // Isle of Man
	"ININD" + // India
	"IOIOT" + // British Indian Ocean Territory
	"IQIRQ" + // Iraq
	"IRIRN" + // Iran
	"ISISL" + // Iceland
	"ITITA" + // Italy
	"JEJEY" + // Jersey
	"JMJAM" + // Jamaica
	"JOJOR" + // Jordan
	"JPJPN" + // Japan
	"KEKEN" + // Kenya
	"KGKGZ" + // Kyrgyzstan
	"KHKHM" + // Cambodia
	"KIKIR" + // Kiribati
	"KMCOM" + // Comoros
	"KNKNA" + // Saint Kitts and Nevis
	"KPPRK" + // North Korea
	"KRKOR" + // South Korea
	"KWKWT" + // Kuwait
	"KYCYM" + // Cayman Islands
	"KZKAZ" + // Kazakhstan
	"LALAO" + // Laos
	"LBLBN" + // Lebanon
	"LCLCA" + // Saint Lucia
	"LILIE" + // Liechtenstein
	"LKLKA" + // Sri Lanka
	"LRLBR" + // Liberia
	"LSLSO" + // Lesotho
	"LTLTU" + // Lithuania
	"LULUX" + // Luxembourg
	"LVLVA" + // Latvia
	"LYLBY" + // Libya
	"MAMAR" + // Morocco
	"MCMCO" + // Monaco
	"MDMDA" + // Moldova
	"MEMNE" + // Montenegro
	"MFMAF" + // Saint Martin (French part)
	"MGMDG" + // Madagascar
	"MHMHL" + // Marshall Islands
	"MKMKD" + // North Macedonia
	"MLMLI" + // Mali
	"MMMMR" + // Myanmar
	"MNMNG" + // Mongolia
	"MOMAC" + // Macao
	"MPMNP" + // Northern Mariana Islands
	"MQMTQ" + // Martinique
	"MRMRT" + // Mauritania
	"MSMSR" + // Montserrat
	"MTMLT" + // Malta
	"MUMUS" + // Mauritius
	"MVMDV" + // Maldives
	"MWMWI" + // Malawi
	"MXMEX" + // Mexico
	"MYMYS" + // Malaysia
	"MZMOZ" + // Mozambique
	"NANAM" + // Namibia
	"NCNCL" + // New Caledonia
	"NENER" + // Niger
	"NFNFK" + // Norfolk Island
	"NGNGA" + // Nigeria
	"NINIC" + // Nicaragua
	"NLNLD" + // Netherlands
	"NONOR" + // Norway
	"NPNPL" + // Nepal
	"NRNRU" + // Nauru
	"NUNIU" + // Niue
	"NZNZL" + // New Zealand
	"OMOMN" + // Oman
	"PAPAN" + // Panama
	"PEPER" + // Peru
	"PFPYF" + // French Polynesia
	"PGPNG" + // Papua New Guinea
	"PHPHL" + // Philippines
	"PKPAK" + // Pakistan
	"PLPOL" + // Poland
	"PMSPM" + // Saint Pierre and Miquelon
	"PNPCN" + // Pitcairn
	"PRPRI" + // Puerto Rico
	"PSPSE" + // Palestine, State of
	"PTPRT" + // Portugal
	"PWPLW" + // Palau
	"PYPRY" + // Paraguay
	"QAQAT" + // Qatar
	"REREU" + // Réunion
	"ROROU" + // Romania
	"RSSRB" + // Serbia
	"RURUS" + // Russian Federation
	"RWRWA" + // Rwanda
	"SASAU" + // Saudi Arabia
	"SBSLB" + // Solomon Islands
	"SCSYC" + // Seychelles
	"SDSDN" + // Sudan
	"SESWE" + // Sweden
	"SGSGP" + // Singapore
	"SHSHN" + // Saint Helena, Ascension and Tristan da Cunha
	"SISVN" + // Slovenia
	"SJSJM" + // Svalbard and Jan Mayen
	"SKSVK" + // Slovakia
	"SLSLE" + // Sierra Leone
	"SMSMR" + // San Marino
	"SNSEN" + // Senegal
	"SOSOM" + // Somalia
	"SRSUR" + // Suriname
	"SSSSD" + // South Sudan
	"STSTP" + // Sao Tome and Principe
	"SVSLV" + // El Salvador
	"SXSXM" + // Sint Maarten (Dutch part)
	"SYSYR" + // Syria
	"SZSWZ" + // Eswatini
	"TCTCA" + // Turks and Caicos Islands
	"TDTCD" + // Chad
	"TFATF" + // French Southern Territories
	"TGTGO" + // Togo
	"THTHA" + // Thailand
	"TJTJK" + // Tajikistan
	"TKTKL" + // Tokelau
	"TLTLS" + // Timor-Leste
	"TMTKM" + // Turkmenistan
	"TNTUN" + // Tunisia
	"TOTON" + // Tonga
	"TRTUR" + // Türkiye
	"TTTTO" + // Trinidad and Tobago
	"TVTUV" + // Tuvalu
	"TWTWN" + // Taiwan
	"TZTZA" + // Tanzania
	"UAUKR" + // Ukraine
	"UGUGA" + // Uganda
	"UMUMI" + // United States Minor Outlying Islands
	"USUSA" + // United States
	"UYURY" + // Uruguay
	"UZUZB" + // Uzbekistan
	"VAVAT" + // Holy See (Vatican City State)
	"VCVCT" + // Saint Vincent and the Grenadines
	"VEVEN" + // Venezuela
	"VGVGB" + // Virgin Islands, British
	"VIVIR" + // Virgin Islands, U.S.
	"VNVNM" + // Vietnam
	"VUVUT" + // Vanuatu
	"WFWLF" + // Wallis and Futuna
	"WSWSM" + // Samoa
	"YEYEM" + // Yemen
	"YTMYT" + // Mayotte
	"ZAZAF" + // South Africa
	"ZMZMB" + // Zambia
	"ZWZWE" // Zimbabwe

// entry is the width of one table entry.
const entry = 5

// count is the number of codes in table.
const count = len(table) / entry

// Codes returns every officially assigned ISO 3166-1 alpha-2 code, upper-case and sorted. The
// slice is new on every call.
func Codes() []string {
	codes := make([]string, count)
	for i := range codes {
		codes[i] = table[i*entry : i*entry+2]
	}
	return codes
}

// Valid reports whether alpha2 is an officially assigned ISO 3166-1 alpha-2 code. The check
// ignores case.
func Valid(alpha2 string) bool {
	_, ok := Alpha3(alpha2)
	return ok
}

// Alpha3 returns the upper-case ISO 3166-1 alpha-3 code for an alpha-2 code given in any case,
// and false if alpha2 is not an officially assigned code.
func Alpha3(alpha2 string) (string, bool) {
	if len(alpha2) != 2 {
		return "", false
	}
	a, b := upper(alpha2[0]), upper(alpha2[1])
	lo, hi := 0, count
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := table[m*entry : m*entry+entry]
		switch {
		case e[0] < a || (e[0] == a && e[1] < b):
			lo = m + 1
		case e[0] == a && e[1] == b:
			return e[2:], true
		default:
			hi = m
		}
	}
	return "", false
}

// upper maps an ASCII lower-case letter to upper case and leaves every other byte alone.
func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
