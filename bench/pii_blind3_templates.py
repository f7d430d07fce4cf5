"""Third blind set of PII benchmark templates.

These templates were written without looking at the recognizers or at any
other template set. Each one imitates text that a company holding user data
would store: support chats, emails and signatures, CRM and HR notes, call
transcripts, sloppy SMS, forms, delivery notes, bank messages, bookings,
reminders, reviews, DMs, helpdesk tickets and messages by non-native writers.

Placeholders: PERSON, person_lower, EMAIL_ADDRESS, PHONE_NUMBER, ADDRESS,
LOCATION, CREDIT_CARD, IBAN_CODE, IP_ADDRESS and US_SSN, each written in
curly braces. Everything else (products, companies, order numbers, dates,
amounts, job titles, role words, name-like common words) is a distractor and
is not personal data.
"""

BLIND3_TEMPLATES = (
    # 1 support chat, sloppy customer
    (
        "Agent: Hi, thanks for contacting Brightline Mobile, you're through to billing.\n"
        "Customer: hey its {person_lower}, my bill for march says $84.20 but my plan is $60\n"
        "Agent: Let me check that. Can you confirm the number on the account?\n"
        "Customer: {PHONE_NUMBER}"
    ),
    # 2 email signature
    (
        "Thanks again for the quick turnaround on the Q3 invoice.\n\n"
        "Best regards,\n"
        "{PERSON}\n"
        "Senior Procurement Manager | Hallberg Industrial GmbH\n"
        "{ADDRESS}, {LOCATION}\n"
        "Tel: {PHONE_NUMBER}\n"
        "Mail: {EMAIL_ADDRESS}"
    ),
    # 3 forwarded email, two people
    (
        "---------- Forwarded message ---------\n"
        "From: {PERSON} <{EMAIL_ADDRESS}>\n"
        "Date: Tue, 14 May 2024 at 09:12\n"
        "Subject: Re: Order #A-558201 missing item\n"
        "To: Customer Care\n\n"
        "Hi team, forwarding this on behalf of my husband {PERSON}, he will not be\n"
        "able to call this week. He ordered the Jordan shoes (size 44) and the box\n"
        "arrived empty. Tracking says delivered 11/05."
    ),
    # 4 CRM note
    (
        "CRM note 2024-03-02 (acct 7781-22): spoke w/ {PERSON} re: renewal of the "
        "Premium Plus bundle. Prefers contact by email only ({EMAIL_ADDRESS}). "
        "Decision maker is their CFO; will follow up after the grace period ends 31/03."
    ),
    # 5 call-centre transcript, two people, SSN
    (
        "[00:00:04] AGENT: Northgate Insurance, claims department, how can I help?\n"
        "[00:00:07] CALLER: Yes hello, I'm calling about the claim for our car, the\n"
        "policy is in the name of my wife, {PERSON}.\n"
        "[00:00:15] AGENT: Of course. And who am I speaking with today?\n"
        "[00:00:17] CALLER: {PERSON}, her husband. We live at {ADDRESS}.\n"
        "[00:00:24] AGENT: Thank you. For verification, the Social Security number "
        "on the policy?\n"
        "[00:00:29] CALLER: it's {US_SSN}"
    ),
    # 6 sloppy SMS
    (
        "hey its me new number this one lol save it {PHONE_NUMBER} and tell "
        "{person_lower} i cant make it sat"
    ),
    # 7 patient registration form, two people
    (
        "NEW PATIENT REGISTRATION\n"
        "Full name: {PERSON}\n"
        "Date of birth: 1987-11-03\n"
        "Home address: {ADDRESS}\n"
        "City: {LOCATION}\n"
        "Mobile: {PHONE_NUMBER}\n"
        "Emergency contact: {PERSON} (sister)\n"
        "Insurance provider: BlueHarbor Health, plan ID BH-4471-X"
    ),
    # 8 delivery note with street-like product name
    (
        "DELIVERY NOTE   No. DN-20931\n"
        "Ship to: {PERSON}\n"
        "{ADDRESS}\n"
        "{LOCATION}\n"
        "Items: 2x Maple Avenue Oak Shelf (SKU 55-190), 1x wall bracket set\n"
        "Driver remark: leave with neighbour at no. 12 if nobody answers, ring twice"
    ),
    # 9 HR file note, two people, SSN
    (
        "HR file note - confidential\n"
        "Employee: {PERSON}, Warehouse Team Lead (Shift B)\n"
        "Line manager: {PERSON}\n"
        "Summary: Employee requested unpaid leave from 3 June to 28 June for family "
        "reasons. Approved pending payroll check. SSN on file ({US_SSN}) to be "
        "re-verified after the name change."
    ),
    # 10 bank alert
    (
        "Dear customer, a transfer of EUR 1,250.00 to {IBAN_CODE} (beneficiary: "
        "{PERSON}) has been scheduled for 05.04.2024. If you did not authorise this "
        "payment, call us immediately on the number printed on the back of your card."
    ),
    # 11 hotel booking with a French sign-off
    (
        "Booking confirmation - Hotel Rivage & Spa\n"
        "Confirmation no.: HRV-88213\n"
        "Guest: {PERSON}\n"
        "Arrival: 12 Aug 2024    Departure: 16 Aug 2024\n"
        "Room: Deluxe Sea View, 2 adults, breakfast included\n"
        "Guarantee card: {CREDIT_CARD}\n"
        "Merci et à bientôt !"
    ),
    # 12 medical appointment reminder SMS
    (
        "Reminder from Lakeside Medical: {PERSON}, your appointment is on Thu 18 Apr "
        "at 10:40 at our main clinic (Building C, 2nd floor). Reply C to confirm or "
        "call {PHONE_NUMBER} to reschedule."
    ),
    # 13 app review
    (
        "★★☆☆☆ Used to love this app but since update v5.2 it logs me out every day. "
        "Support guy said he will escalate it, nothing happened. Also why does the "
        "profile page show my home address ({ADDRESS}) to other users?? fix this "
        "- {person_lower}"
    ),
    # 14 social media DM
    (
        "omg hiii!! saw ur post about the amber alert app thing. my cousin "
        "{person_lower} is looking for a job there, can i give her ur email?? or "
        "just dm her at {EMAIL_ADDRESS}"
    ),
    # 15 IT helpdesk ticket
    (
        "Ticket #INC-004512\n"
        "Requester: {PERSON}\n"
        "Category: Network / VPN\n"
        "Description: Cannot connect to the VPN from home since Monday. My laptop "
        "gets IP {IP_ADDRESS} but the gateway does not respond. Tried restarting "
        "the router twice.\n"
        "Priority: P3"
    ),
    # 16 non-native English writer
    (
        "Hello, I am writing you because the package is not arrived until now. My "
        "name is {PERSON} and I am living in {LOCATION} since two years. Please can "
        "you send it again to {ADDRESS}? Thank you very much for your help and sorry "
        "for my english."
    ),
    # 17 German-English mix, two people, IBAN
    (
        "Sehr geehrte Damen und Herren,\n\n"
        "please find attached the signed contract. Die Zahlung erfolgt auf folgendes "
        "Konto: {IBAN_CODE}, Kontoinhaber {PERSON}.\n\n"
        "Mit freundlichen Grüßen\n"
        "{PERSON}"
    ),
    # 18 markdown table, two people
    (
        "| Name | Role | Phone |\n"
        "|---|---|---|\n"
        "| {PERSON} | Project Lead | {PHONE_NUMBER} |\n"
        "| {PERSON} | QA Engineer | {PHONE_NUMBER} |\n"
        "| Facilities desk | Building B | ext. 4410 |"
    ),
    # 19 tab-separated export, two people
    (
        "emp_id\tname\temail\toffice\n"
        "10442\t{PERSON}\t{EMAIL_ADDRESS}\t{LOCATION}\n"
        "10443\t{PERSON}\t{EMAIL_ADDRESS}\t{LOCATION}"
    ),
    # 20 quoted reply
    (
        "Sure, I'll update it today.\n\n"
        "> On Mon, 3 Jun 2024, {PERSON} wrote:\n"
        "> Could you change the billing address on my account to {ADDRESS}?\n"
        "> The old one is no longer valid. Order ref 2024-77813.\n"
        "> Thanks"
    ),
    # 21 failed card payment
    (
        "We could not charge the card {CREDIT_CARD} for your StreamMax Premium "
        "subscription ($129.99/yr). Please update your payment details within the "
        "7-day grace period to avoid any interruption of service."
    ),
    # 22 chatbot, lower-case user
    (
        "user: hi i need help resetting my password\n"
        "bot: Sure! What's the email on the account?\n"
        "user: {EMAIL_ADDRESS}\n"
        "bot: Thanks. And the account holder's full name?\n"
        "user: {person_lower}"
    ),
    # 23 sloppy SMS with 'will' as a document
    (
        "running late, traffic on the bridge is insane. {person_lower} pls tell the "
        "boss ill be there by 10. also dont forget to pick up grandpas will from the "
        "notary"
    ),
    # 24 French travel confirmation
    (
        "Bonjour,\n"
        "Je vous confirme la réservation pour {PERSON}, vol AF1234 le 22/09, départ "
        "de {LOCATION} à 07h15. Contact sur place : {PHONE_NUMBER}.\n"
        "Cordialement,\n"
        "Service Voyages"
    ),
    # 25 Spanish message about a double charge
    (
        "Hola! Soy {PERSON}, compré el abono mensual en la app pero me cobraron dos "
        "veces en la tarjeta {CREDIT_CARD}. ¿Me pueden devolver uno de los cargos? "
        "Gracias"
    ),
    # 26 Italian-English mix
    (
        "Buongiorno, scrivo per conto di mia madre, {PERSON}, che non usa l'email. "
        "Her new address is {ADDRESS}, {LOCATION}. Grazie mille."
    ),
    # 27 Dutch-English mix, IP only
    (
        "Beste klantenservice, my account was blocked after a login from "
        "{IP_ADDRESS}, which was not me. Mijn gebruikersnaam is tulp_77. Kunt u het "
        "account weer openen? Groetjes"
    ),
    # 28 security log line
    (
        "2024-05-19T22:41:07Z WARN auth: 5 failed login attempts for user "
        "{EMAIL_ADDRESS} from {IP_ADDRESS}; account locked for 30 min "
        "(policy: Amber Lockout v2)"
    ),
    # 29 tax form answers, two people, SSN
    (
        "Q7. Taxpayer name (as shown on return): {PERSON}\n"
        "Q8. Social Security Number: {US_SSN}\n"
        "Q9. Spouse's name, if filing jointly: {PERSON}\n"
        "Q10. Filing status: Married filing jointly"
    ),
    # 30 landlord / tenant chat
    (
        "Landlord: Hi, just a reminder that rent for unit 4B is due on the 1st.\n"
        "Tenant: ok will transfer today, same account as always?\n"
        "Landlord: yes, {IBAN_CODE}\n"
        "Tenant: perfect, the reference will be my name, {person_lower}"
    ),
    # 31 voicemail transcription
    (
        "Voicemail (0:42) from {PHONE_NUMBER}: Hi, um, this is {PERSON}, I'm calling "
        "back about the quote for the roof repair. You can reach me on this number "
        "or my wife's cell. Thanks, bye."
    ),
    # 32 loyalty sign-up, lower-case answers
    (
        "Name: {person_lower}\n"
        "email: {EMAIL_ADDRESS}\n"
        "city: {LOCATION}\n"
        "How did you hear about us? instagram\n"
        "Favourite product: Sunset Boulevard candle (large)"
    ),
    # 33 delivery support chat, two people
    (
        "Customer: my parcel says delivered but its not here\n"
        "Agent: I'm sorry to hear that. Could you confirm the delivery address?\n"
        "Customer: {ADDRESS}, apartment on the 3rd floor\n"
        "Agent: Thanks. The courier photo shows the parcel at the front door. "
        "Was anyone home?\n"
        "Customer: only my roommate {PERSON} and she didnt see anything"
    ),
    # 34 introduction email, two people
    (
        "Hi both,\n\n"
        "Let me introduce {PERSON} (our new regional sales lead, cc'd) to {PERSON}, "
        "who runs procurement at Vantor Logistics. I think you two should talk about "
        "the fleet tracking pilot.\n\n"
        "Cheers"
    ),
    # 35 card dispute form
    (
        "DISPUTE FORM\n"
        "Cardholder: {PERSON}\n"
        "Card number: {CREDIT_CARD}\n"
        "Merchant: GALAXY ELECTRONICS ONLINE\n"
        "Transaction date: 02/17/2024    Amount: USD 899.00\n"
        "Reason: item never received\n"
        "Signature: ____________"
    ),
    # 36 patient portal message, lower case
    (
        "patient portal msg: hi doc office, this is {person_lower}, i need to move my "
        "blood test from friday, can someone call me at {PHONE_NUMBER}? thx"
    ),
    # 37 IP allow-list request
    (
        "Please whitelist the following for the staging environment:\n"
        "- {IP_ADDRESS} (home office of {PERSON})\n"
        "- the office VPN range (already allowed)\n"
        "Requested by: Platform Team, change CHG-3381"
    ),
    # 38 flight itinerary, two people, two locations
    (
        "ITINERARY / PASSENGER LIST\n"
        "1. {PERSON}   ADT   seat 14A\n"
        "2. {PERSON}   ADT   seat 14B\n"
        "Booking ref: QX7P2L\n"
        "From {LOCATION} to {LOCATION}, dep 06:55\n"
        "Paid with card {CREDIT_CARD}"
    ),
    # 39 Slack message, lower case
    (
        "slack #people-ops: anyone know if {person_lower} has returned the laptop? "
        "her last day was friday and IT says asset tag LT-5521 is still checked out"
    ),
    # 40 formal address-change letter, two addresses
    (
        "To whom it may concern,\n\n"
        "I, {PERSON}, hereby notify you that as of 1 July 2024 my residential "
        "address has changed from {ADDRESS} to {ADDRESS}. Please update your "
        "records accordingly.\n\n"
        "Yours faithfully"
    ),
    # 41 pharmacy SMS, phone only
    (
        "CityCare Pharmacy: your prescription is ready for pickup. Bring photo ID. "
        "Questions? {PHONE_NUMBER}. Reply STOP to opt out."
    ),
    # 42 sloppy email with phone signature
    (
        "hi,\n\n"
        "the invoice pdf doesnt open on my mac. can you resend?\n\n"
        "sent from my iphone\n"
        "{person_lower}\n"
        "{PHONE_NUMBER}"
    ),
    # 43 RSVP form, two people
    (
        "RSVP\n"
        "Guest name(s): {PERSON} & {PERSON}\n"
        "Will you attend? Yes\n"
        "Meal choice: vegetarian x2\n"
        "Mailing address for the thank-you card: {ADDRESS}, {LOCATION}"
    ),
    # 44 KYC checklist
    (
        "Account opening - KYC checklist\n"
        "[x] Applicant: {PERSON}\n"
        "[x] SSN verified: {US_SSN}\n"
        "[x] Proof of address received (utility bill for {ADDRESS})\n"
        "[ ] Salary account IBAN for incoming transfers: {IBAN_CODE}\n"
        "Banker: Relationship Manager, Branch 042"
    ),
    # 45 quoted question, answer with contact
    (
        "> Can you send me the contact for the plumber?\n\n"
        "yes of course, it's {PERSON}, {PHONE_NUMBER}. tell him I sent you, he did "
        "our bathroom last year and his prices were very reasonable."
    ),
    # 46 gaming account recovery
    (
        "Account recovery request\n"
        "Username: DragonSlayer_88\n"
        "Email on file: {EMAIL_ADDRESS}\n"
        "Last known login IP: {IP_ADDRESS}\n"
        "Country: {LOCATION}\n"
        "Notes from user: i lost access after my brother changed the password pls help"
    ),
    # 47 real-estate CRM lead with street-like product name
    (
        "Lead: {PERSON}\n"
        "Source: listing portal\n"
        "Interested in: 3-bed townhouse, 'Park Lane' model (new build, Phase 2)\n"
        "Budget: ~$450k\n"
        "Currently renting at {ADDRESS}\n"
        "Next step: viewing Sat 11am, agent to confirm by text"
    ),
    # 48 restaurant booking SMS
    (
        "hi table for 4 tonight 8pm under {person_lower} pls. my number "
        "{PHONE_NUMBER} if theres a problem"
    ),
    # 49 job application, two people
    (
        "Dear Hiring Team,\n\n"
        "I am applying for the Data Analyst position (ref. DA-2024-19). I currently "
        "work at Meridian Retail in {LOCATION}. My former manager, {PERSON}, has "
        "agreed to act as a reference.\n\n"
        "Kind regards,\n"
        "{PERSON}\n"
        "{EMAIL_ADDRESS} | {PHONE_NUMBER}"
    ),
    # 50 web-shop receipt with name-like product
    (
        "Thank you for your order #100-4455-9012!\n"
        "Billing name: {PERSON}\n"
        "Billed to: Visa {CREDIT_CARD}\n"
        "Shipping to: {ADDRESS}\n"
        "Items: Air Jordan 1 Mid (x1) $125.00, shoe cleaner kit (x1) $14.99\n"
        "Total: $139.99 + tax"
    ),
    # 51 non-native English complaint
    (
        "Dear sir, the refund was not arrive on my card {CREDIT_CARD} after 3 weeks "
        "already. The order was make by my brother {PERSON} but with my card. Please "
        "check and write me back. Regards"
    ),
    # 52 group chat, several lower-case people
    (
        "[18:02] {person_lower}: who has the wifi password for the cabin\n"
        "[18:03] {person_lower}: its on the fridge lol\n"
        "[18:05] {person_lower}: ok also the router is at {IP_ADDRESS} if u want "
        "to change it"
    ),
    # 53 German delivery instruction
    (
        "Lieferung für {PERSON}, {ADDRESS}. Bitte beim Nachbarn abgeben, falls "
        "niemand da ist. Tel. {PHONE_NUMBER}"
    ),
    # 54 appointment reminder email
    (
        "Subject: Appointment reminder - Physiotherapy\n\n"
        "Dear {PERSON},\n\n"
        "This is a reminder of your session on Wednesday 24 April at 15:30. Please "
        "arrive 10 minutes early and bring your referral letter.\n\n"
        "Kind regards,\n"
        "Reception, Eastside Physio & Sports Clinic"
    ),
    # 55 French cancellation chat
    (
        "Client : bonjour, je veux annuler mon abonnement\n"
        "Conseiller : Bien sûr. Pouvez-vous me donner l'adresse e-mail du compte ?\n"
        "Client : {EMAIL_ADDRESS}\n"
        "Conseiller : Merci. Le compte est au nom de {PERSON}, c'est bien ça ?\n"
        "Client : oui c'est ma femme"
    ),
    # 56 payroll change request
    (
        "Payroll change request\n"
        "Employee: {PERSON} (ID 30981)\n"
        "New salary account: {IBAN_CODE}\n"
        "Effective: next pay run (25th)\n"
        "Approved by: Head of Finance"
    ),
    # 57 public complaint to a shop
    (
        "@ShopNorth ur courier left my package in the rain AGAIN. 3rd time this "
        "month. order 55812. dm me, or just ask for {person_lower} at the front desk "
        "of my building"
    ),
    # 58 neighbourhood app post, dog with a name-like word
    (
        "Lost dog! Brown labrador called Grace, very friendly, last seen near "
        "{ADDRESS} around 7pm. If found please call {PERSON} on {PHONE_NUMBER}. "
        "Reward!!"
    ),
    # 59 travel request, two people
    (
        "Travel request TR-7718\n"
        "Traveller: {PERSON}\n"
        "Destination: {LOCATION}\n"
        "Dates: 09-13 Sep 2024\n"
        "Purpose: customer workshop\n"
        "Approver: {PERSON}\n"
        "Corporate card to be used: {CREDIT_CARD}"
    ),
    # 60 contact form, lower-case answers
    (
        "contact form submission\n"
        "----\n"
        "name: {person_lower}\n"
        "email: {EMAIL_ADDRESS}\n"
        "message: hi my name was spelled wrong on the certificate, can u fix it? also "
        "i moved, new address is {ADDRESS} in {LOCATION}"
    ),
)
