"""The campaign engine. It reaches Asterisk only through ``callcenter.telephony.Telephony``."""
